// name: capacity
// description: Hardware of the running VMs, grouped by $by (provider, project, shoot, seed or pool):
//   VMs, vCPUs, memory (MiB) and GPUs per GPU model, and how much of it the VMs in $orphans and
//   $unverified hold (uids from the orphan report; `graphinv capacity` fills them in). A VM's
//   hardware is the cloud catalogue's MachineType for its type in its region (OF_TYPE); where the
//   cloud's catalogue has no such type, the CloudProfile's entry for it (its shoot's profile first).
//   VMs of a type neither source knows are counted in unknown_vms and add no vCPUs.
// params: by, gpu_only, orphans, unverified
// index: Instance(status) seek; MachineType(name) seek for the CloudProfile fallback
WITH coalesce($by, 'provider') AS by
MATCH (i:Instance)
WHERE i.status = 'running'
OPTIONAL MATCH (i)-[:OF_TYPE]->(cloud:MachineType)
OPTIONAL MATCH (s:Shoot)-[:OWNS_VM]->(i)
// The profile's entry is looked up only for a VM its cloud's catalogue does not describe (the seek
// key is null otherwise, which finds nothing at once): a subquery expression inside coalesce() ran
// in full for every VM.
OPTIONAL CALL (i, s, cloud) {
  MATCH (p:MachineType) USING INDEX p:MachineType(name)
  WHERE p.name = CASE WHEN cloud IS NULL THEN i.instance_type END
    AND p.cloud_profile IS NOT NULL AND p.provider = i.provider
  RETURN p ORDER BY CASE WHEN p.cloud_profile = s.cloud_profile THEN 0 ELSE 1 END, p.uid LIMIT 1
}
WITH i, s, by, coalesce(cloud, p) AS mt
WHERE NOT coalesce($gpu_only, false) OR coalesce(mt.gpu_count, 0) > 0
WITH i, mt,
  CASE by
    WHEN 'provider' THEN i.provider
    WHEN 'project' THEN CASE WHEN i.cluster STARTS WITH 'shoot--' THEN split(i.cluster, '--')[1] END
    WHEN 'shoot' THEN coalesce(s.uid, i.cluster)
    WHEN 'seed' THEN s.seed_name
    WHEN 'pool' THEN coalesce(s.uid, i.cluster) + ' ' + coalesce(
      [w IN coalesce(s.workers, []) WHERE i.name STARTS WITH s.technical_id + '-' + split(w, ':')[0] + '-'
       | split(w, ':')[0]][0], '?')
  END AS grp
// `IN $orphans`, not IN a variable holding it: a parameter list is made a set once, a variable's list
// is scanned for every VM.
WITH coalesce(grp, '(none)') AS grp, mt, i.uid IN $orphans AS orphan, i.uid IN $unverified AS doubtful
// Count the VMs per group, machine type and verdict first, then read each type's hardware once per
// such count instead of thirteen sums over every VM.
WITH grp, mt, orphan, doubtful, count(*) AS n
WITH grp, mt, orphan, doubtful, n, coalesce(mt.vcpus, 0) AS cpu, coalesce(mt.memory_mib, 0) AS mem,
     coalesce(mt.gpu_count, 0) AS gpu
RETURN grp, mt.gpu_model AS gpu_model,
  sum(n) AS vms,
  sum(n * cpu) AS vcpus,
  sum(n * mem) AS memory_mib,
  sum(n * gpu) AS gpus,
  sum(CASE WHEN mt IS NULL OR mt.vcpus IS NULL THEN n ELSE 0 END) AS unknown_vms,
  sum(CASE WHEN orphan THEN n ELSE 0 END) AS orphan_vms,
  sum(CASE WHEN orphan THEN n * cpu ELSE 0 END) AS orphan_vcpus,
  sum(CASE WHEN orphan THEN n * mem ELSE 0 END) AS orphan_memory_mib,
  sum(CASE WHEN orphan THEN n * gpu ELSE 0 END) AS orphan_gpus,
  sum(CASE WHEN doubtful THEN n ELSE 0 END) AS unverified_vms,
  sum(CASE WHEN doubtful THEN n * cpu ELSE 0 END) AS unverified_vcpus,
  sum(CASE WHEN doubtful THEN n * mem ELSE 0 END) AS unverified_memory_mib,
  sum(CASE WHEN doubtful THEN n * gpu ELSE 0 END) AS unverified_gpus
ORDER BY grp, gpu_model
