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
# description: pods and ServiceAccounts set automountServiceAccountToken to false; vLLM never calls the Kubernetes API. A cloud role for the weights download (IRSA, EKS Pod Identity) needs no exception, as EKS's webhook projects a token of its own audience.
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
# title: Cloud role for the download only
# description: a pod whose ServiceAccount carries an IAM role (data.rules.workloadIdentity.roleAnnotation) names each of its containers in the pod annotation data.rules.workloadIdentity.skipContainersAnnotation, so EKS's webhook gives the role's credentials to the weights download (an init container) and never to vLLM.
# custom:
#   source: aws/amazon-eks-pod-identity-webhook pkg/handler (the webhook mutates every container not named in skip-containers)
#   severity: deny
deny_cloud_role_scope contains msg if {
	identity := data.rules.workloadIdentity
	some account in objects
	account.kind == "ServiceAccount"
	role := object.get(account, ["metadata", "annotations", identity.roleAnnotation], "")
	role != ""
	some pod in serving_pods
	object.get(pod.spec, "serviceAccountName", "default") == account.metadata.name
	skipped := {trim_space(name) | some name in split(object.get(pod.annotations, identity.skipContainersAnnotation, ""), ",")}
	some c in pod.spec.containers
	not c.name in skipped
	msg := format("[cloud_role_scope] %v: ServiceAccount %v carries the IAM role %v (%v), which EKS's webhook gives to every container the pod annotation %v does not name, so container %v would hold it; name it there (the chart does when serviceAccount.annotations holds the role)", [subject(pod), account.metadata.name, role, identity.roleAnnotation, identity.skipContainersAnnotation, c.name])
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

# METADATA
# title: A volume a container writes is writable by it
# description: a container that mounts a volume writable (the weights download's init container) can write it, so the volume is not a claim declared readOnly (which makes every mount of it read-only), and a hostPath it writes as a non-root user is not left for the kubelet to create (DirectoryOrCreate makes it root-owned 0755).
# custom:
#   source: issue 26 "A real node" (an S3 download into a readOnly claim and into a kubelet-created hostPath both fail at run time); Kubernetes volumes documentation (persistentVolumeClaim.readOnly, hostPath types)
#   severity: deny
deny_written_volume_writable contains msg if {
	some pod in pods
	some volume in object.get(pod.spec, "volumes", [])
	some c in containers(pod.spec)
	some mount in object.get(c, "volumeMounts", [])
	mount.name == volume.name
	object.get(mount, "readOnly", false) != true
	problem := unwritable(pod, c, volume)
	msg := format("[written_volume_writable] %v: mounts volume %v writable at %v, but %v", [container_subject(pod, c), volume.name, mount.mountPath, problem])
}

unwritable(_, _, volume) := "the claim is declared readOnly (persistentVolumeClaim.readOnly), which makes every mount of it read-only; declare readOnly on the mounts that only read (the chart does when storage.download is on)" if {
	object.get(volume, ["persistentVolumeClaim", "readOnly"], false) == true
}

unwritable(pod, c, volume) := format("hostPath %v has type DirectoryOrCreate: the kubelet creates it root-owned 0755, which UID %v cannot write; use type Directory and create the directory on each node writable by UID %v or group 0 (the chart does; chart README, storage.download)", [volume.hostPath.path, user, user]) if {
	object.get(volume, ["hostPath", "type"], "") == "DirectoryOrCreate"
	user := effective_security(pod, c, "runAsUser")
	user != 0
}

# METADATA
# title: Non-root
# description: every container runs as a non-root user, runAsNonRoot true (on the pod or the container) and runAsUser not 0.
# custom:
#   source: issue 18 "Secure by default" (non-root vLLM); Pod Security restricted "Running as Non-root"; seed 003 page-cache drop is the one deliberate exception
#   severity: deny
deny_run_as_non_root contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	problem := root_problem(pod, c)
	msg := format("[run_as_non_root] %v: %v; set securityContext.runAsNonRoot: true and a non-zero securityContext.runAsUser (the chart's default is 2000), or declare why this release needs root (dropPageCache.enabled does) in policies/exceptions.yaml", [container_subject(pod, c), problem])
}

# The container's setting wins over the pod's (Kubernetes' rule), for each field on its own.
effective_security(pod, c, field) := object.get(c, ["securityContext", field], object.get(pod.spec, ["securityContext", field], null))

root_problem(pod, c) := "runs as UID 0 (runAsUser: 0)" if {
	effective_security(pod, c, "runAsUser") == 0
} else := format("runAsNonRoot is %v, so it may run as root", [setting_text(effective_security(pod, c, "runAsNonRoot"))]) if {
	effective_security(pod, c, "runAsNonRoot") != true
}

setting_text(value) := "unset" if value == null

setting_text(value) := text(value) if value != null

# METADATA
# title: Read-only root filesystem
# description: every container mounts its image read-only; what it writes goes to volumes (the chart's runtime emptyDirs for vLLM).
# custom:
#   source: issue 18 "Secure by default" (readOnlyRootFilesystem true); NSA/CISA Kubernetes Hardening Guide "immutable container file systems"
#   severity: deny
deny_read_only_root_filesystem contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	object.get(c, ["securityContext", "readOnlyRootFilesystem"], false) != true
	msg := format("[read_only_root_filesystem] %v: readOnlyRootFilesystem is %v, so a compromised process can change the image's files; set containerSecurityContext.readOnlyRootFilesystem: true (vLLM writes only below the runtime volumes)", [container_subject(pod, c), setting_text(object.get(c, ["securityContext", "readOnlyRootFilesystem"], null))])
}

# METADATA
# title: vLLM's writable directories are writable
# description: every vLLM (GPU) container sets USER, LOGNAME, HOME and the cache variables of data.rules.runtime, each below a writable volumeMount, and mounts a writable volume at each of its writablePaths (/tmp); otherwise a non-root vLLM on a read-only root filesystem crashes at startup.
# custom:
#   source: issue 18 "Secure by default"; vllm-project/vllm#44548 (getpass.getuser() KeyError for an arbitrary UID); vllm/envs.py cache paths
#   severity: deny
deny_runtime_dirs_writable contains msg if {
	some w in gpu_deployments
	some name in data.rules.runtime.userEnv
	env_value(w.container, name) == ""
	msg := format("[runtime_dirs_writable] %v: env %v is not set; an arbitrary UID has no /etc/passwd entry and torch's getpass.getuser() fails without it (vllm#44548): set it (the chart sets runtime.userName)", [container_subject(w.pod, w.container), name])
}

deny_runtime_dirs_writable contains msg if {
	some w in gpu_deployments
	some name in data.rules.runtime.writableEnv
	path := env_value(w.container, name)
	not writable_path(w.container, path)
	msg := format("[runtime_dirs_writable] %v: env %v is %v, which is not below a writable volumeMount (writable mounts: %v); vLLM writes there, so point it into a writable emptyDir or claim (the chart's runtime.home.path)", [container_subject(w.pod, w.container), name, shown(path), writable_mount_list(w.container)])
}

deny_runtime_dirs_writable contains msg if {
	some w in gpu_deployments
	some path in data.rules.runtime.writablePaths
	not writable_path(w.container, path)
	msg := format("[runtime_dirs_writable] %v: %v is not a writable volumeMount (writable mounts: %v); vLLM writes there, so mount an emptyDir at it", [container_subject(w.pod, w.container), path, writable_mount_list(w.container)])
}

env_value(c, name) := value if {
	values := [object.get(e, "value", "") | some e in object.get(c, "env", []); e.name == name]
	count(values) > 0
	value := values[count(values) - 1]
} else := ""

shown(value) := value if value != ""

shown(value) := "unset" if value == ""

writable_mounts(c) := [m.mountPath | some m in object.get(c, "volumeMounts", []); object.get(m, "readOnly", false) != true]

writable_mount_list(c) := concat(", ", writable_mounts(c)) if count(writable_mounts(c)) > 0

writable_mount_list(c) := "none" if count(writable_mounts(c)) == 0

writable_path(c, path) if {
	path != ""
	some dir in writable_mounts(c)
	below(path, dir)
}

# METADATA
# title: Images pinned by digest in production
# description: in environments matching data.rules.images.digestEnvironments (production*), every container image names a digest (@sha256:...); a tag can be moved to other content.
# custom:
#   source: issue 18 "Secure by default" (image.digest required in production); seed 004 "Pin Image Versions"
#   severity: deny
deny_image_digest contains msg if {
	regex.match(data.rules.images.digestEnvironments, target.environment)
	some pod in pods
	some c in containers(pod.spec)
	not contains(c.image, "@sha256:")
	msg := format("[image_digest] %v: image %v has no digest, and environment %v runs only images pinned by digest (rules.yaml images.digestEnvironments): a tag can be moved to other content; set image.digest (helmTest.image for the test pod) to the sha256 the registry gives for that tag, or declare in policies/exceptions.yaml why not", [container_subject(pod, c), c.image, target.environment])
}

# METADATA
# title: Remote code only with a reason
# description: a vLLM command line with --trust-remote-code (Python shipped with the weights runs in the server) carries a non-blank reason in the annotation data.rules.remoteCode.reasonAnnotation.
# custom:
#   source: issue 18 "Secure by default" (trustRemoteCode off by default, on only for architectures that need it, with the reason in the model file)
#   severity: deny
deny_trust_remote_code contains msg if {
	some w in gpu_deployments
	some arg in w.cmd
	arg in data.rules.remoteCode.flags
	trim_space(text(object.get(w.pod.metadata, ["annotations", data.rules.remoteCode.reasonAnnotation], ""))) == ""
	msg := format("[trust_remote_code] %v: runs %v (Python shipped with the weights runs in the server) without a reason in annotation %v; set deployment.trustRemoteCode: false unless the architecture has no native vLLM or transformers implementation, and then name it in deployment.trustRemoteCodeReason", [container_subject(w.pod, w.container), arg, data.rules.remoteCode.reasonAnnotation])
}

# METADATA
# title: Credentials only from Secrets
# description: an environment variable whose name looks like a credential (data.rules.secrets.namePattern) that takes its value from valueFrom takes it from a Secret (secretKeyRef), not a ConfigMap or a field.
# custom:
#   source: issue 18 "Secure by default" (a token reaches a pod only from a Secret); seed 004 "Store Secrets in Kubernetes Secrets"
#   severity: deny
deny_env_secret_source contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	some env in object.get(c, "env", [])
	source := object.get(env, "valueFrom", {})
	count(source) > 0
	regex.match(data.rules.secrets.namePattern, upper(env.name))
	not source.secretKeyRef
	msg := format("[env_secret_source] %v: env %v looks like a credential but takes its value from %v; a credential comes only from a Secret: use valueFrom.secretKeyRef (huggingface.tokenSecret for HF_TOKEN)", [container_subject(pod, c), env.name, concat(", ", object.keys(source))])
}

# METADATA
# title: Local weights run offline
# description: a vLLM (GPU) container serving a local path sets every variable of data.rules.offline.env to 1, so no Hugging Face Hub call leaves the pod (a missing file fails instead of being fetched).
# custom:
#   source: issue 18 "Secure by default" (local weights run offline); huggingface_hub constants.py (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE read at import)
#   severity: deny
deny_offline_local_weights contains msg if {
	some w in gpu_deployments
	path := model_path(w.container)
	startswith(path, "/")
	some name in data.rules.offline.env
	env_value(w.container, name) != "1"
	msg := format("[offline_local_weights] %v: serves the local path %v but env %v is %v; set it to 1 so no Hub call leaves the pod (the chart does for a deployment.model below storage.mountPath)", [container_subject(w.pod, w.container), path, name, shown(env_value(w.container, name))])
}
