"""llama-stack-provider-rule-shield: ``inline::rule-shield``, an offline Safety provider (keyword and regex lists,
PII and secret detectors, a prompt-injection heuristic, optional redaction) that needs no model."""

__version__ = "0.1.0"
