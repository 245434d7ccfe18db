// graphinv: the shoots a seed hosts, with their projects
// first set: :param seed => 'openstack-eu-de-1'
MATCH (seed:Seed {name: $seed})-[h:HOSTS]->(s:Shoot)
OPTIONAL MATCH (p:Project)-[hs:HAS_SHOOT]->(s)
RETURN seed, h, s, p, hs
