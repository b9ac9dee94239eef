# Deliberate deviations, declared per environment and release in policies/exceptions.yaml
# (loaded as data.exceptions) and expressed in conftest's convention: `exception` yields
# the names of the rules (without deny_/warn_) whose results do not fail this release.
package main

declared_exceptions := data.exceptions if {
	is_array(data.exceptions)
} else := []

exceptions_in_force := [entry |
	some entry in declared_exceptions
	entry.environment == target.environment
	entry.release == target.release
]

exception contains rules if {
	some entry in exceptions_in_force
	has_reason(entry)
	rules := [entry.rule]
}

has_reason(entry) if {
	is_string(entry.reason)
	trim_space(entry.reason) != ""
}

# METADATA
# title: Exceptions give a reason
# description: every exception declared for the release in policies/exceptions.yaml names a rule and says why; one without a reason excepts nothing and fails.
# custom:
#   source: issue 6 "Exceptions" (a deliberate deviation is declared with a reason)
#   severity: deny
deny_exception_reason contains msg if {
	some entry in exceptions_in_force
	not has_reason(entry)
	msg := format("[exception_reason] policies/exceptions.yaml: the exception of rule %v for environment %v, release %v has no reason, so it is not applied; say why this release may deviate (reason: ...) or remove the entry", [object.get(entry, "rule", "(no rule)"), entry.environment, entry.release])
}
