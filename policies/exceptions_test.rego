package main

privileged_exception := {"environment": "test", "release": "llms-v2-demo", "rule": "privileged", "reason": "seed 003 page-cache drop measured on a dedicated node"}

test_an_exception_for_the_release_excepts_its_rule if {
	exception == {["privileged"]} with data.exceptions as [privileged_exception] with data.main.target as fixture_target
}

test_an_exception_for_another_release_excepts_nothing if {
	other := object.union(privileged_exception, {"release": "llms-v2-other"})
	count(exception) == 0 with data.exceptions as [other] with data.main.target as fixture_target
}

test_an_exception_for_another_environment_excepts_nothing if {
	other := object.union(privileged_exception, {"environment": "production-jp"})
	count(exception) == 0 with data.exceptions as [other] with data.main.target as fixture_target
}

# --- exception_reason ---

test_exception_reason_passes_when_every_exception_says_why if {
	count(deny_exception_reason) == 0 with data.exceptions as [privileged_exception] with data.main.target as fixture_target
}

test_exception_reason_fails_and_excepts_nothing_without_a_reason if {
	bare := object.remove(privileged_exception, ["reason"])
	deny_exception_reason == {"[exception_reason] policies/exceptions.yaml: the exception of rule privileged for environment test, release llms-v2-demo has no reason, so it is not applied; say why this release may deviate (reason: ...) or remove the entry"} with data.exceptions as [bare] with data.main.target as fixture_target
	count(exception) == 0 with data.exceptions as [bare] with data.main.target as fixture_target
}

test_exception_reason_fails_on_a_blank_reason if {
	blank := object.union(privileged_exception, {"reason": "  "})
	count(deny_exception_reason) == 1 with data.exceptions as [blank] with data.main.target as fixture_target
}
