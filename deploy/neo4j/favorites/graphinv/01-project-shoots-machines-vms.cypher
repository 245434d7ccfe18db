// graphinv: a project's shoots, their machines and the VMs they run on
// first set: :param project => 'core1'
MATCH (p:Project {name: $project})-[hs:HAS_SHOOT]->(s:Shoot)
OPTIONAL MATCH (s)-[hm:HAS_MACHINE]->(m:Machine)
OPTIONAL MATCH (m)-[ro:RUNS_ON]->(i:Instance)
RETURN p, hs, s, hm, m, ro, i
