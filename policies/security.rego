# Images and security: pinned images, the Pod Security "restricted" basics, no secrets in git.
package main

# METADATA
# title: Pinned image tag
# description: every container image names a tag other than latest, or a digest.
# custom:
#   source: seed 004 "Pin Image Versions"
#   severity: deny
deny_image_tag_pinned contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	not pinned(c.image)
	msg := format("[image_tag_pinned] %v: image %v is not pinned to a release; set a tag such as v0.11.0 (image.tag or global.image.tag) or a digest", [container_subject(pod, c), c.image])
}

pinned(image) if contains(image, "@sha256:")

pinned(image) if {
	name := split(image, "/")
	last := name[count(name) - 1]
	parts := split(last, ":")
	count(parts) == 2
	not parts[1] in {"", "latest"}
}

# METADATA
# title: Not privileged
# description: no container runs privileged (full access to the node's devices and kernel).
# custom:
#   source: seed 000 "Security Configuration"; seed 003 "Privileged Pods Requirements" (page-cache drop is the one deliberate exception)
#   severity: deny
deny_privileged contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	c.securityContext.privileged == true
	msg := format("[privileged] %v: runs privileged; remove securityContext.privileged (dropPageCache.enabled needs it: declare that in policies/exceptions.yaml with a reason)", [container_subject(pod, c)])
}

# METADATA
# title: No host namespaces
# description: pods do not share the node's PID, IPC or network namespace.
# custom:
#   source: seed 000 "Pod Security Standards Compliance" (baseline forbids host namespaces)
#   severity: deny
deny_host_namespaces contains msg if {
	some pod in pods
	some field in ["hostPID", "hostIPC", "hostNetwork"]
	pod.spec[field] == true
	msg := format("[host_namespaces] %v: sets %v: true and shares the node's namespace; remove it (dropPageCache.enabled sets hostPID: declare that in policies/exceptions.yaml with a reason)", [subject(pod), field])
}

# METADATA
# title: No hostPort
# description: no container port is bound on the node (hostPort); Services expose the model.
# custom:
#   source: seed 000 "Pod Security Standards Compliance" (baseline forbids hostPort)
#   severity: deny
deny_host_port contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	some port in object.get(c, "ports", [])
	object.get(port, "hostPort", 0) != 0
	msg := format("[host_port] %v: port %v binds hostPort %v on the node; remove hostPort and reach the model through its Service", [container_subject(pod, c), object.get(port, "name", port.containerPort), port.hostPort])
}

# METADATA
# title: No added capabilities
# description: no container adds Linux capabilities.
# custom:
#   source: seed 000 "Security Configuration" (capabilities drop ALL; SYS_PTRACE only for NCCL debugging)
#   severity: deny
deny_added_capabilities contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	added := object.get(c, ["securityContext", "capabilities", "add"], [])
	count(added) > 0
	msg := format("[added_capabilities] %v: adds capabilities %v; remove containerSecurityContext.capabilities.add (declare a debugging need in policies/exceptions.yaml)", [container_subject(pod, c), concat(", ", added)])
}

# METADATA
# title: No privilege escalation
# description: every container sets allowPrivilegeEscalation to false (Kubernetes defaults it to true).
# custom:
#   source: seed 000 "Security Configuration" (allowPrivilegeEscalation false)
#   severity: deny
deny_privilege_escalation contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	object.get(c, ["securityContext", "allowPrivilegeEscalation"], true) != false
	msg := format("[privilege_escalation] %v: allowPrivilegeEscalation is %v; set containerSecurityContext.allowPrivilegeEscalation: false", [container_subject(pod, c), object.get(c, ["securityContext", "allowPrivilegeEscalation"], "unset (defaults to true)")])
}

# METADATA
# title: Seccomp RuntimeDefault
# description: every container runs under the RuntimeDefault (or a Localhost) seccomp profile, set on the pod or the container.
# custom:
#   source: seed 000 "Security Configuration" (RuntimeDefault seccomp profile as minimum)
#   severity: deny
deny_seccomp contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	profile := object.get(c, ["securityContext", "seccompProfile", "type"], object.get(pod.spec, ["securityContext", "seccompProfile", "type"], "unset"))
	not profile in {"RuntimeDefault", "Localhost"}
	msg := format("[seccomp] %v: seccomp profile is %v; set securityContext.seccompProfile.type: RuntimeDefault", [container_subject(pod, c), profile])
}

# METADATA
# title: Capabilities drop ALL
# description: every container drops ALL Linux capabilities.
# custom:
#   source: seed 000 "Security Configuration" (capabilities drop ALL)
#   severity: deny
deny_drop_all_capabilities contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	not "ALL" in object.get(c, ["securityContext", "capabilities", "drop"], [])
	msg := format("[drop_all_capabilities] %v: does not drop ALL capabilities; set containerSecurityContext.capabilities.drop: [ALL]", [container_subject(pod, c)])
}

# METADATA
# title: No service account token
# description: pods and ServiceAccounts set automountServiceAccountToken to false; vLLM never calls the Kubernetes API.
# custom:
#   source: seed 000 "Security Configuration" (least privilege for GPU workloads)
#   severity: deny
deny_service_account_token contains msg if {
	some pod in pods
	object.get(pod.spec, "automountServiceAccountToken", true) != false
	msg := format("[service_account_token] %v: mounts a service account token (automountServiceAccountToken is not false); set automountServiceAccountToken: false in the pod spec", [subject(pod)])
}

deny_service_account_token contains msg if {
	some obj in objects
	obj.kind == "ServiceAccount"
	object.get(obj, "automountServiceAccountToken", true) != false
	msg := format("[service_account_token] ServiceAccount %v: automountServiceAccountToken is not false, so every pod using it gets an API token; set automountServiceAccountToken: false", [obj.metadata.name])
}

# METADATA
# title: No literal secrets in env
# description: environment variables whose name or value looks like a credential (TOKEN, SECRET, PASSWORD, API_KEY, hf_..., sk-...) come from a Secret (valueFrom.secretKeyRef), never a literal value in git.
# custom:
#   source: seed 004 "Store Secrets in Kubernetes Secrets" (HF_TOKEN via secretKeyRef)
#   severity: deny
deny_env_secret_literals contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	some env in object.get(c, "env", [])
	value := object.get(env, "value", "")
	value != ""
	secret_looking(env.name, value)
	msg := format("[env_secret_literals] %v: env %v has a literal value that looks like a credential (value withheld); reference a Secret with valueFrom.secretKeyRef (huggingface.tokenSecret for HF_TOKEN)", [container_subject(pod, c), env.name])
}

# The patterns live in charts/vllm-models/rules.yaml (data.rules.secrets), which the chart reads too.
secret_looking(name, _) if regex.match(data.rules.secrets.namePattern, upper(name))

secret_looking(_, value) if regex.match(data.rules.secrets.valuePattern, text(value))

# METADATA
# title: hostPath only for the model, read-only
# description: a hostPath volume is only the directory holding the served model of a GPU container, and containers mount it read-only; only an init container may write it (the node-local cache a weights download fills before vLLM starts).
# custom:
#   source: seed 000 "Host Path Storage Configuration" (model files from /var/modas-models); seed 004 "Use Model Caching" (no download again on restart)
#   severity: deny
deny_host_path contains msg if {
	some pod in pods
	some volume in object.get(pod.spec, "volumes", [])
	volume.hostPath
	some c in object.get(pod.spec, "containers", [])
	some mount in object.get(c, "volumeMounts", [])
	mount.name == volume.name
	object.get(mount, "readOnly", false) != true
	msg := format("[host_path] %v: hostPath %v (volume %v) is mounted writable at %v; mount it readOnly: true", [container_subject(pod, c), volume.hostPath.path, volume.name, mount.mountPath])
}

deny_host_path contains msg if {
	some pod in pods
	some volume in object.get(pod.spec, "volumes", [])
	volume.hostPath
	not holds_served_model(pod, volume)
	msg := format("[host_path] %v: hostPath %v (volume %v) is not the directory of a served model; only the model directory may come from the host (storage.type, hps.models.path)", [subject(pod), volume.hostPath.path, volume.name])
}

holds_served_model(pod, volume) if {
	some w in gpu_deployments
	w.pod.name == pod.name
	w.pod.kind == pod.kind
	w.pod.role == pod.role
	path := w.model
	path != ""
	some mount in w.container.volumeMounts
	mount.name == volume.name
	below(path, mount.mountPath)
}

below(path, dir) if path == dir

below(path, dir) if startswith(path, concat("", [trim_suffix(dir, "/"), "/"]))
