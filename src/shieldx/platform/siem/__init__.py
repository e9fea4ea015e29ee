"""Security events exported to a SIEM: syslog (RFC 5424, CEF or ECS JSON) and Splunk HEC."""
