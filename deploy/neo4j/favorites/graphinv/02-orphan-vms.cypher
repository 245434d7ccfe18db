// graphinv: orphan VMs (Gardener-tagged, no Machine runs on them) with their shoot, project, disks and IPs
MATCH (i:Instance)
WHERE i.cluster IS NOT NULL
  AND coalesce(i.role, 'node') <> 'bastion'
  AND NOT coalesce(i.status, 'unknown') IN ['terminated', 'shutting-down']
  AND NOT EXISTS { (:Machine)-[:RUNS_ON]->(i) }
OPTIONAL MATCH owner = (:Project)-[:HAS_SHOOT]->(:Shoot)-[:OWNS_VM]->(i)
OPTIONAL MATCH attached = (i)-[:HAS_DISK|HAS_IP]->()
RETURN i, owner, attached
