// name: pool_type_drift
// description: Worker pools (from each Shoot's spec) whose machine type is not listed or not usable
//   in the shoot's CloudProfile, is not offered by the cloud in the shoot's region (judged only where
//   that region's catalogue was read), or whose CloudProfile entry and cloud disagree on vCPUs or
//   memory. Both values are returned.
// severity: warning
// schedule: after-collect
// key: shoot, pool, finding
MATCH (s:Shoot)
UNWIND coalesce(s.workers, []) AS worker
WITH s, split(worker, ':')[0] AS pool, split(worker, ':')[1] AS type
OPTIONAL MATCH (p:MachineType {uid: 'cloudprofile:' + s.cloud_profile + ':' + type})
OPTIONAL MATCH (c:MachineType {uid: s.provider + ':' + s.region + ':' + type})
WITH s, pool, type, p, c,
     EXISTS { MATCH (m:MachineType {provider: s.provider, region: s.region}) } AS region_read
WITH s, pool, type, p, c, [f IN [
    CASE WHEN p IS NULL THEN 'not listed in CloudProfile ' + coalesce(s.cloud_profile, '?') END,
    CASE WHEN p IS NOT NULL AND NOT coalesce(p.usable, true) THEN 'not usable in CloudProfile ' + s.cloud_profile END,
    CASE WHEN region_read AND c IS NULL THEN 'not offered by the cloud in region ' + s.region END,
    CASE WHEN p IS NOT NULL AND c IS NOT NULL AND p.vcpus <> c.vcpus THEN 'vCPUs differ' END,
    CASE WHEN p IS NOT NULL AND c IS NOT NULL AND p.memory_mib <> c.memory_mib THEN 'memory differs' END
  ] WHERE f IS NOT NULL] AS findings
WHERE size(findings) > 0
UNWIND findings AS finding
RETURN s.uid AS shoot, s.project_ref AS project, s.provider AS provider, s.region AS region, pool,
       type AS machine_type, finding, p.vcpus AS profile_vcpus, c.vcpus AS cloud_vcpus,
       p.memory_mib AS profile_memory_mib, c.memory_mib AS cloud_memory_mib, p.usable AS profile_usable
ORDER BY shoot, pool, finding
