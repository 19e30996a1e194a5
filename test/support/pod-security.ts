// Kubernetes' Pod Security Standards, "restricted" profile (https://kubernetes.io/docs/concepts/
// security/pod-security-standards/, the checks of Pod Security Admission at version "latest"), as
// a check of a pod spec: each rule that fails is returned as a sentence naming the field.
// Baseline's rules come first (restricted includes them), then restricted's own.

/** Volume types restricted allows. */
const RESTRICTED_VOLUME_TYPES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];
/** Sysctls baseline allows. */
const SAFE_SYSCTLS = ["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"];

/** The ways a pod spec breaks the restricted profile; [] when it meets it. */
export function restrictedViolations(pod: any): string[] {
  const problems: string[] = [];
  const containers: any[] = [...(pod.initContainers ?? []), ...(pod.containers ?? []), ...(pod.ephemeralContainers ?? [])];
  const podContext = pod.securityContext ?? {};
  // Baseline.
  for (const key of ["hostNetwork", "hostPID", "hostIPC"]) if (pod[key]) problems.push(`spec.${key} is true`);
  if (podContext.windowsOptions?.hostProcess) problems.push("spec.securityContext.windowsOptions.hostProcess is true");
  for (const sysctl of podContext.sysctls ?? []) if (!SAFE_SYSCTLS.includes(sysctl.name)) problems.push(`sysctl ${sysctl.name} is not a safe one`);
  for (const volume of pod.volumes ?? []) {
    const type = Object.keys(volume).find((k) => k !== "name");
    if (!type || !RESTRICTED_VOLUME_TYPES.includes(type)) problems.push(`volume ${volume.name} is of type ${type}, which restricted does not allow`);
  }
  const seccomp = (t: string | undefined) => t === undefined || t === "RuntimeDefault" || t === "Localhost";
  if (!seccomp(podContext.seccompProfile?.type)) problems.push(`spec.securityContext.seccompProfile.type is ${podContext.seccompProfile.type}`);
  for (const c of containers) {
    const context = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (context.privileged) problems.push(`${where}: privileged`);
    if (context.windowsOptions?.hostProcess) problems.push(`${where}: hostProcess`);
    for (const port of c.ports ?? []) if (port.hostPort) problems.push(`${where}: hostPort ${port.hostPort}`);
    if (context.procMount && context.procMount !== "Default") problems.push(`${where}: procMount ${context.procMount}`);
    if (context.seLinuxOptions?.type && !["container_t", "container_init_t", "container_kvm_t", "container_engine_t"].includes(context.seLinuxOptions.type)) problems.push(`${where}: seLinuxOptions.type ${context.seLinuxOptions.type}`);
    if (context.appArmorProfile?.type === "Unconfined") problems.push(`${where}: appArmorProfile Unconfined`);
    // Restricted.
    if (context.allowPrivilegeEscalation !== false) problems.push(`${where}: securityContext.allowPrivilegeEscalation must be false`);
    const nonRoot = context.runAsNonRoot ?? podContext.runAsNonRoot;
    if (nonRoot !== true) problems.push(`${where}: runAsNonRoot must be true (on the container or the pod)`);
    if ((context.runAsUser ?? podContext.runAsUser) === 0) problems.push(`${where}: runAsUser is 0`);
    const profile = context.seccompProfile?.type ?? podContext.seccompProfile?.type;
    if (profile !== "RuntimeDefault" && profile !== "Localhost") problems.push(`${where}: seccompProfile.type must be RuntimeDefault or Localhost (on the container or the pod)`);
    if (!(context.capabilities?.drop ?? []).includes("ALL")) problems.push(`${where}: capabilities.drop must include ALL`);
    for (const added of context.capabilities?.add ?? []) if (added !== "NET_BIND_SERVICE") problems.push(`${where}: adds capability ${added}`);
  }
  return problems;
}
