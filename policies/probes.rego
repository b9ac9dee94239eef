# Probe budgets and shutdown: a loading model is never killed, a stopping one drains.
package main

# METADATA
# title: Startup probe budget
# description: the GPU container that serves the API (a Deployment's, a LeaderWorkerSet leader's; a group's workers serve none) has a startupProbe whose initialDelaySeconds + failureThreshold x periodSeconds covers the seed's load time (maxLoadSeconds) for the release's size class.
# custom:
#   source: seed 000 "Model-Size Based Startup Thresholds" and "Probe Execution Order", via sizing.yaml sizeClasses
#   severity: deny
deny_startup_probe_budget contains msg if {
	some w in gpu_deployments
	w.serves
	not w.container.startupProbe
	msg := format("[startup_probe_budget] %v: no startupProbe, so liveness and readiness run while the model loads; add a startupProbe on /health (the chart's probes.startup)", [container_subject(w.pod, w.container)])
}

deny_startup_probe_budget contains msg if {
	some w in gpu_deployments
	w.serves
	probe := w.container.startupProbe
	facts := model_facts(w.pod)
	load := size_class(facts.size_class).maxLoadSeconds
	budget := probe_window(probe)
	budget < load
	msg := format("[startup_probe_budget] %v: startupProbe allows %vs (initialDelaySeconds + failureThreshold x periodSeconds) but a %v model may take %vs to load; raise probes.startup.failureThreshold or set slowStart.maxStartupSeconds", [container_subject(w.pod, w.container), budget, facts.size_class, load])
}

# METADATA
# title: Liveness gated by startup
# description: without a startupProbe, the livenessProbe must not be able to kill the container (initialDelaySeconds + failureThreshold x periodSeconds) before the size class's load time; with one, liveness only starts after the model loaded.
# custom:
#   source: seed 000 "Probe Execution Order" (liveness begins only after startupProbe succeeds)
#   severity: deny
deny_liveness_after_startup contains msg if {
	some w in gpu_deployments
	probe := w.container.livenessProbe
	not w.container.startupProbe
	facts := model_facts(w.pod)
	load := size_class(facts.size_class).maxLoadSeconds
	kill := probe_window(probe)
	kill < load
	msg := format("[liveness_after_startup] %v: livenessProbe can restart the container after %vs, before a %v model's %vs load time, and no startupProbe holds it back; add a startupProbe", [container_subject(w.pod, w.container), kill, facts.size_class, load])
}

# METADATA
# title: Liveness tolerates a slow answer
# description: a GPU container's livenessProbe restarts it only after failureThreshold >= minFailureThreshold failures, each given timeoutSeconds >= minTimeoutSeconds, over failureThreshold x periodSeconds >= minWindowSeconds (data.rules.liveness, charts/vllm-models/rules.yaml).
# custom:
#   source: seed 004 "Configure Appropriate Health Probes" (liveness 30s period, 3 failures); a restart reloads the model for minutes
#   severity: deny
deny_liveness_tolerance contains msg if {
	some w in gpu_deployments
	probe := w.container.livenessProbe
	some problem in liveness_problems(probe, data.rules.liveness)
	msg := format("[liveness_tolerance] %v: livenessProbe %v, so one slow /health answer restarts a loaded model; raise probes.liveness", [container_subject(w.pod, w.container), problem])
}

liveness_problems(probe, limits) := [problem |
	some check in [
		{"value": object.get(probe, "failureThreshold", 3), "minimum": limits.minFailureThreshold, "what": "failureThreshold"},
		{"value": object.get(probe, "timeoutSeconds", 1), "minimum": limits.minTimeoutSeconds, "what": "timeoutSeconds"},
		{"value": object.get(probe, "failureThreshold", 3) * object.get(probe, "periodSeconds", 10), "minimum": limits.minWindowSeconds, "what": "failureThreshold x periodSeconds"},
	]
	check.value < check.minimum
	problem := format("%v %v is below %v", [check.what, check.value, check.minimum])
]

# METADATA
# title: Readiness differs from liveness
# description: a container's readinessProbe and livenessProbe are not identical; a slow pod should leave the Service endpoints well before it is restarted.
# custom:
#   source: seed 004 "Configure Appropriate Health Probes" (readiness removes from service, liveness restarts)
#   severity: warn
warn_readiness_equals_liveness contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	c.readinessProbe == c.livenessProbe
	msg := format("[readiness_equals_liveness] %v: readinessProbe and livenessProbe are identical, so the pod is restarted the moment it stops being ready; give liveness a longer period or more failures (probes.liveness)", [container_subject(pod, c)])
}

# METADATA
# title: Progress deadline beyond startup
# description: a GPU Deployment's progressDeadlineSeconds (default 600) exceeds its startup probe budget, or a rollout is marked failed while the model still loads (a LeaderWorkerSet has no progress deadline).
# custom:
#   source: seed 000 "Model-Size Based Startup Thresholds" (loads of 20-40 minutes) and Kubernetes Deployment progressDeadlineSeconds
#   severity: deny
deny_progress_deadline contains msg if {
	some w in gpu_deployments
	w.pod.kind == "Deployment"
	budget := probe_window(w.container.startupProbe)
	deadline := w.pod.progress_deadline
	deadline <= budget
	msg := format("[progress_deadline] %v: progressDeadlineSeconds %v does not exceed the startup budget %vs, so rollouts fail while the model loads; set deployment.progressDeadlineSeconds above %v (or leave it null: budget + 600s)", [subject(w.pod), deadline, budget, budget])
}

# METADATA
# title: Grace period from the seed's table
# description: a GPU workload's terminationGracePeriodSeconds (default 30) is at least the seed's grace for its parameter count and architecture.
# custom:
#   source: seed 000 "Termination Grace Period Guidelines" (<30B 60s, 30-70B 120s, >70B 180s, MoE 600B+ 300s), via sizing.yaml terminationGrace
#   severity: deny
deny_termination_grace contains msg if {
	some w in gpu_deployments
	facts := model_facts(w.pod)
	required := grace_seconds_for(facts.parameters, facts.architecture)
	grace := object.get(w.pod.spec, "terminationGracePeriodSeconds", 30)
	grace < required
	msg := format("[termination_grace] %v: terminationGracePeriodSeconds %v is below %vs, the seed's grace for a %vB %v model, so in-flight requests are cut off; raise deployment.terminationGracePeriodSeconds (or leave it null)", [subject(w.pod), grace, required, facts.parameters, facts.architecture])
}

# METADATA
# title: Grace period covers shutdown
# description: terminationGracePeriodSeconds exceeds the preStop pause plus vLLM's --shutdown-timeout (when the command line sets it; a group's workers serve no requests and drain nothing), or vLLM is killed before it drains.
# custom:
#   source: seed 000 "Graceful Shutdown and Zero-Downtime Updates"; vLLM serve --shutdown-timeout
#   severity: deny
deny_grace_covers_shutdown contains msg if {
	some pod in pods
	some c in pod.spec.containers
	grace := object.get(pod.spec, "terminationGracePeriodSeconds", 30)
	pause := prestop_sleep(c)
	drain := drain_seconds(pod, c)
	grace <= pause + drain
	msg := format("[grace_covers_shutdown] %v: terminationGracePeriodSeconds %v does not exceed the preStop pause %vs + vLLM --shutdown-timeout %vs = %vs, so vLLM is killed mid-drain; raise deployment.terminationGracePeriodSeconds or shorten deployment.preStopSleepSeconds", [container_subject(pod, c), grace, pause, drain, pause + drain])
}

drain_seconds(pod, c) := flag_number(cmd, flag_positions(cmd), {name | some name in data.rules.shutdown.drainFlags}, 0) if {
	pod.role != "worker"
	cmd := command_line(c)
}

drain_seconds(pod, _) := 0 if pod.role == "worker"

prestop_sleep(c) := seconds if {
	seconds := prestop_sleep_seconds(c)
} else := 0

prestop_sleep_seconds(c) := number(c.lifecycle.preStop.sleep.seconds)

prestop_sleep_seconds(c) := number(command[1]) if {
	command := c.lifecycle.preStop.exec.command
	count(command) == 2
	command[0] in {"sleep", "/bin/sleep", "/usr/bin/sleep"}
}

prestop_sleep_seconds(c) := number(found[0][1]) if {
	command := c.lifecycle.preStop.exec.command
	count(command) == 3
	command[1] == "-c"
	found := regex.find_all_string_submatch_n(`^\s*sleep\s+([0-9]+)\s*$`, command[2], 1)
	count(found) == 1
}
