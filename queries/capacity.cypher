// name: capacity
// description: Hardware of the running VMs, grouped by $by (provider, project, shoot, seed or pool):
//   VMs, vCPUs, memory (MiB) and GPUs per GPU model, and how much of it the VMs in $orphans and
//   $unverified hold (uids from the orphan report; `graphinv capacity` fills them in). A VM's
//   hardware is the cloud catalogue's MachineType for its type in its region (OF_TYPE); where the
//   cloud's catalogue has no such type, the CloudProfile's entry for it (its shoot's profile first).
//   VMs of a type neither source knows are counted in unknown_vms and add no vCPUs.
// params: by, gpu_only, orphans, unverified
// index: Instance(status) seek; MachineType(name) seek for the CloudProfile fallback
WITH coalesce($by, 'provider') AS by, coalesce($orphans, []) AS orphans, coalesce($unverified, []) AS unverified
MATCH (i:Instance)
WHERE i.status = 'running'
OPTIONAL MATCH (i)-[:OF_TYPE]->(cloud:MachineType)
OPTIONAL MATCH (s:Shoot)-[:OWNS_VM]->(i)
WITH i, s, by, orphans, unverified, coalesce(cloud, COLLECT {
    MATCH (p:MachineType {name: i.instance_type})
    WHERE p.cloud_profile IS NOT NULL AND p.provider = i.provider
    RETURN p ORDER BY CASE WHEN p.cloud_profile = s.cloud_profile THEN 0 ELSE 1 END, p.uid LIMIT 1
  }[0]) AS mt
WHERE NOT coalesce($gpu_only, false) OR coalesce(mt.gpu_count, 0) > 0
WITH i, mt, orphans, unverified,
  CASE by
    WHEN 'provider' THEN i.provider
    WHEN 'project' THEN CASE WHEN i.cluster STARTS WITH 'shoot--' THEN split(i.cluster, '--')[1] END
    WHEN 'shoot' THEN coalesce(s.uid, i.cluster)
    WHEN 'seed' THEN s.seed_name
    WHEN 'pool' THEN coalesce(s.uid, i.cluster) + ' ' + coalesce(
      [w IN coalesce(s.workers, []) WHERE i.name STARTS WITH s.technical_id + '-' + split(w, ':')[0] + '-'
       | split(w, ':')[0]][0], '?')
  END AS grp
WITH coalesce(grp, '(none)') AS grp, mt.gpu_model AS gpu_model, i.uid IN orphans AS orphan,
     i.uid IN unverified AS doubtful, mt
RETURN grp, gpu_model,
  count(*) AS vms,
  sum(coalesce(mt.vcpus, 0)) AS vcpus,
  sum(coalesce(mt.memory_mib, 0)) AS memory_mib,
  sum(coalesce(mt.gpu_count, 0)) AS gpus,
  sum(CASE WHEN mt IS NULL OR mt.vcpus IS NULL THEN 1 ELSE 0 END) AS unknown_vms,
  sum(CASE WHEN orphan THEN 1 ELSE 0 END) AS orphan_vms,
  sum(CASE WHEN orphan THEN coalesce(mt.vcpus, 0) ELSE 0 END) AS orphan_vcpus,
  sum(CASE WHEN orphan THEN coalesce(mt.memory_mib, 0) ELSE 0 END) AS orphan_memory_mib,
  sum(CASE WHEN orphan THEN coalesce(mt.gpu_count, 0) ELSE 0 END) AS orphan_gpus,
  sum(CASE WHEN doubtful THEN 1 ELSE 0 END) AS unverified_vms,
  sum(CASE WHEN doubtful THEN coalesce(mt.vcpus, 0) ELSE 0 END) AS unverified_vcpus,
  sum(CASE WHEN doubtful THEN coalesce(mt.memory_mib, 0) ELSE 0 END) AS unverified_memory_mib,
  sum(CASE WHEN doubtful THEN coalesce(mt.gpu_count, 0) ELSE 0 END) AS unverified_gpus
ORDER BY grp, gpu_model
