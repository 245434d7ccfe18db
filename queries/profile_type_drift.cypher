// name: profile_type_drift
// description: CloudProfile machine types that the clouds contradict: usable in the profile but not
//   offered in one of the profile's regions (judged only where that region's catalogue was read), or
//   described with other vCPUs, memory or GPUs than the cloud says. Both values are returned.
// params: provider
// index: MachineType(cloud_profile) scan; MachineType(uid) seeks
MATCH (cp:CloudProfile)-[:OFFERS]->(p:MachineType)
WHERE ($provider IS NULL OR cp.provider = $provider)
UNWIND coalesce(cp.regions, []) AS region
OPTIONAL MATCH (c:MachineType {uid: cp.provider + ':' + region + ':' + p.name})
WITH cp, p, region, c, EXISTS { MATCH (m:MachineType {provider: cp.provider, region: region}) } AS region_read
WITH cp, p, region, c, [f IN [
    CASE WHEN region_read AND c IS NULL AND coalesce(p.usable, true)
      THEN 'usable in the profile, not offered by the cloud in the region' END,
    CASE WHEN c IS NOT NULL AND p.vcpus <> c.vcpus THEN 'vCPUs differ' END,
    CASE WHEN c IS NOT NULL AND p.memory_mib <> c.memory_mib THEN 'memory differs' END,
    CASE WHEN c IS NOT NULL AND coalesce(p.gpu_count, 0) <> coalesce(c.gpu_count, 0) THEN 'GPUs differ' END
  ] WHERE f IS NOT NULL] AS findings
UNWIND findings AS finding
RETURN cp.uid AS cloud_profile, cp.provider AS provider, region, p.name AS machine_type, finding,
       p.vcpus AS profile_vcpus, c.vcpus AS cloud_vcpus, p.memory_mib AS profile_memory_mib,
       c.memory_mib AS cloud_memory_mib, p.gpu_count AS profile_gpus, c.gpu_count AS cloud_gpus
ORDER BY cloud_profile, machine_type, region, finding
