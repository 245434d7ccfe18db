// graphinv: unattached disks whose shoot is gone, with the account that pays for them
MATCH (d:Disk)
WHERE d.attached = false AND d.cluster IS NOT NULL
  AND NOT EXISTS { (:Instance)-[:HAS_DISK]->(d) }
  AND NOT EXISTS { (:Shoot)-[:OWNS_DISK]->(d) }
OPTIONAL MATCH paid = (:CloudAccount)-[:OWNS]->(d)
RETURN d, paid
