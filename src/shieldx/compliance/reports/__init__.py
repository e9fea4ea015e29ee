"""Reports of an assessment: JSON, CSV, HTML with the score trend, OSCAL Assessment Results."""
