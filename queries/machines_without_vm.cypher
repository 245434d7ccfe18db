// name: machines_without_vm
// description: Machines whose VM is not in the graph: the providerID points at nothing we collected
//   (the VM is gone, or its account/region is not collected), or the machine has no providerID yet.
// params: seed
// index: Machine label scan
MATCH (m:Machine)
WHERE NOT EXISTS { (m)-[:RUNS_ON]->(:Instance) }
  AND ($seed IS NULL OR m.seed_name = $seed)
RETURN m.uid AS machine, m.namespace AS shoot, m.seed_name AS seed, m.provider_id AS provider_id,
  m.phase AS phase,
  CASE WHEN m.provider_id IS NULL THEN 'no providerID yet' ELSE 'providerID points at no collected VM' END AS reason
ORDER BY machine
