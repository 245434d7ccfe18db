// name: unknown_instance_types
// description: VMs whose instance type neither the cloud's catalogue for their region nor any
//   CloudProfile of their provider describes: their vCPUs, memory and GPUs are unknown.
// severity: warning
// schedule: after-collect
// key: uid
MATCH (i:Instance)
WHERE i.instance_type IS NOT NULL
  AND NOT coalesce(i.status, 'unknown') IN ['terminated', 'shutting-down']
  AND NOT EXISTS { (i)-[:OF_TYPE]->(:MachineType) }
  AND NOT EXISTS { MATCH (p:MachineType {name: i.instance_type})
                   WHERE p.cloud_profile IS NOT NULL AND p.provider = i.provider }
RETURN i.provider AS provider, i.account_id AS account, i.region AS region, i.instance_type AS instance_type,
       i.uid AS uid, i.name AS name, i.cluster AS shoot, i.status AS status
ORDER BY provider, account, region, instance_type, uid
