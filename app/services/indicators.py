"""placeholder"""

Period = compute_indicators = explain_statements = None
