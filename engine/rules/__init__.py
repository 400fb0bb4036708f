"""Planner rules: YAML rule files -> a validated RuleSet -> durable-rules evaluation -> Directives.

located.py reads YAML within the limits of engine/limits.py (docs/rules.md, "Limits"; ``parse``
is the one entry point for YAML text); loader.py validates files (errors name file, line, rule
id and field) and refuses sets durable-rules could not hold (capacity.py); evaluator.py
runs the *when* side on durable-rules behind a wrapper that absorbs its faults; build.py turns
fired rules into engine Directives with numpy node selectors (selectors.py); checks.py judges
a rule set against a network. Pure: callers pass file text and the decision date.
"""

from engine.rules.evaluator import RulesEvaluationError, compiled, evaluate
from engine.rules.loader import load_rule_set
from engine.rules.model import RuleSet
from engine.rules.problems import RuleError, RuleSetError

__all__ = ["RuleError", "RuleSet", "RuleSetError", "RulesEvaluationError", "compiled", "evaluate", "load_rule_set"]
