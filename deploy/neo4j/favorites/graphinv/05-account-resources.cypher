// graphinv: everything one cloud account owns, and the shoots that own it in turn
// first set: :param account => 'aws:111111111111'
MATCH (a:CloudAccount)
WHERE a.uid = $account OR a.account_id = $account
MATCH owns = (a)-[:OWNS]->(r)
OPTIONAL MATCH owner = (:Shoot)-[:OWNS_VM|OWNS_DISK|OWNS_IP]->(r)
RETURN owns, owner
LIMIT 500
