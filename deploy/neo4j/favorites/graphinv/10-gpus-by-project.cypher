// graphinv: GPUs by project: running VMs whose machine type has GPUs, by project and GPU model
MATCH (i:Instance {status: 'running'})
OPTIONAL MATCH (i)-[:OF_TYPE]->(cloud:MachineType)
OPTIONAL MATCH (s:Shoot)-[:OWNS_VM]->(i)
WITH i, coalesce(cloud, COLLECT {
    MATCH (p:MachineType {name: i.instance_type})
    WHERE p.cloud_profile IS NOT NULL AND p.provider = i.provider
    RETURN p ORDER BY CASE WHEN p.cloud_profile = s.cloud_profile THEN 0 ELSE 1 END, p.uid LIMIT 1
  }[0]) AS type
WHERE type.gpu_count > 0
RETURN coalesce(split(i.cluster, '--')[1], '(no shoot)') AS project, i.provider AS provider,
       coalesce(type.gpu_model, 'unknown model') AS gpu_model, count(i) AS vms, sum(type.gpu_count) AS gpus
ORDER BY gpus DESC, project, gpu_model
