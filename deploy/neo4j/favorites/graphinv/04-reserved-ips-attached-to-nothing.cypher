// graphinv: reserved public IPs associated with nothing, with their account and (if it still exists) shoot
MATCH (ip:IP)
WHERE ip.attached = false AND NOT coalesce(ip.ephemeral, false)
  AND NOT EXISTS { (:Instance)-[:HAS_IP]->(ip) }
OPTIONAL MATCH paid = (:CloudAccount)-[:OWNS]->(ip)
OPTIONAL MATCH owner = (:Shoot)-[:OWNS_IP]->(ip)
RETURN ip, paid, owner
