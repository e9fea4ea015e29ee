"""Assessments: run the checks, score controls and frameworks, keep evidence and findings."""
