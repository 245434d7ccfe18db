// graphinv: orphan VMs (Gardener-tagged, no Machine runs on them; bastion VMs no Bastion claims) with their shoot, project, disks and IPs
MATCH (i:Instance)
WHERE NOT coalesce(i.status, 'unknown') IN ['terminated', 'shutting-down']
  AND CASE WHEN i.role = 'bastion' THEN NOT EXISTS { (:Bastion)-[:USES_VM]->(i) }
           ELSE i.cluster IS NOT NULL AND NOT EXISTS { (:Machine)-[:RUNS_ON]->(i) } END
OPTIONAL MATCH owner = (:Project)-[:HAS_SHOOT]->(:Shoot)-[:OWNS_VM]->(i)
OPTIONAL MATCH attached = (i)-[:HAS_DISK|HAS_IP]->()
RETURN i, owner, attached
