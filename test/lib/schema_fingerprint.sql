-- test/lib/schema_fingerprint.sql — every object of the f1tel extension, one
-- line each (newlines in a definition written as \n), with its full
-- definition, for comparing two databases
-- (test/t/070_upgrade.pl: one updated step by step, one installed fresh).
--
-- Names, never OIDs: the lines of two databases are equal when the objects
-- are.  Covers the extension's members (functions with their bodies,
-- options and privileges; tables and sequences with their columns, defaults,
-- options and privileges; views with their queries; types; comments) and
-- what hangs off its tables (indexes, constraints, triggers, policies,
-- rules), plus pg_extension's dump configuration.
WITH ext AS (
	SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'f1tel'
), member AS (
	SELECT d.classid, d.objid
	  FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rel AS (
	SELECT c.oid, c.relname FROM pg_class c JOIN member m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
)
SELECT replace(line, E'\n', ' \n ') AS line FROM (
	-- functions and procedures: the whole definition and the privileges
	SELECT 'function ' || p.oid::regprocedure::text || ': ' ||
		   CASE WHEN p.prokind IN ('f', 'p', 'w') THEN pg_get_functiondef(p.oid) ELSE p.prokind::text END ||
		   ' acl=' || coalesce(p.proacl::text, 'default') ||
		   ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '') AS line
	  FROM pg_proc p JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
	UNION ALL
	-- relations: kind, options, privileges, comment, and a view's query
	SELECT 'relation ' || c.oid::regclass::text || ': kind=' || c.relkind::text ||
		   ' persistence=' || c.relpersistence::text || ' options=' || coalesce(c.reloptions::text, '') ||
		   ' acl=' || coalesce(c.relacl::text, 'default') ||
		   ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '') ||
		   CASE WHEN c.relkind IN ('v', 'm') THEN ' query=' || pg_get_viewdef(c.oid) ELSE '' END
	  FROM pg_class c JOIN rel ON rel.oid = c.oid
	UNION ALL
	-- columns, in order, with type, nullability, default, identity, generation
	SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' #' || a.attnum || ': ' ||
		   format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ||
		   ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text ||
		   ' default=' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '') ||
		   ' comment=' || coalesce(col_description(a.attrelid, a.attnum), '')
	  FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	 WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT 'sequence ' || s.seqrelid::regclass::text || ': ' || format_type(s.seqtypid, NULL) ||
		   ' start=' || s.seqstart || ' increment=' || s.seqincrement || ' min=' || s.seqmin ||
		   ' max=' || s.seqmax || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
	  FROM pg_sequence s JOIN rel ON rel.oid = s.seqrelid
	UNION ALL
	SELECT 'index ' || i.indexrelid::regclass::text || ': ' || pg_get_indexdef(i.indexrelid)
	  FROM pg_index i JOIN rel ON rel.oid = i.indrelid
	UNION ALL
	SELECT 'constraint ' || co.conrelid::regclass::text || '.' || co.conname || ': ' ||
		   pg_get_constraintdef(co.oid)
	  FROM pg_constraint co JOIN rel ON rel.oid = co.conrelid
	UNION ALL
	SELECT 'trigger ' || t.tgrelid::regclass::text || '.' || t.tgname || ': ' ||
		   pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
	  FROM pg_trigger t JOIN rel ON rel.oid = t.tgrelid
	 WHERE NOT t.tgisinternal
	UNION ALL
	SELECT 'policy ' || po.polrelid::regclass::text || '.' || po.polname || ': ' ||
		   coalesce(pg_get_expr(po.polqual, po.polrelid), '') || ' / ' ||
		   coalesce(pg_get_expr(po.polwithcheck, po.polrelid), '')
	  FROM pg_policy po JOIN rel ON rel.oid = po.polrelid
	UNION ALL
	SELECT 'rule ' || r.ev_class::regclass::text || '.' || r.rulename || ': ' || pg_get_ruledef(r.oid)
	  FROM pg_rewrite r JOIN rel ON rel.oid = r.ev_class
	 WHERE r.rulename <> '_RETURN'
	UNION ALL
	-- types of their own (composite types, domains, enums)
	SELECT 'type ' || t.oid::regtype::text || ': ' || t.typtype::text ||
		   coalesce(' attributes=' || (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod),
														  ', ' ORDER BY a.attnum)
										 FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0), '') ||
		   coalesce(' base=' || format_type(NULLIF(t.typbasetype, 0), t.typtypmod), '') ||
		   ' comment=' || coalesce(obj_description(t.oid, 'pg_type'), '')
	  FROM pg_type t JOIN member m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
	UNION ALL
	-- any other kind of member, by its description
	SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0)
	  FROM member m
	 WHERE m.classid NOT IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass)
	UNION ALL
	-- what pg_dump keeps (pg_extension_config_dump)
	SELECT 'dump config: ' || coalesce((SELECT string_agg(c::regclass::text || ' [' || coalesce(w, '') || ']', ', '
														   ORDER BY c::regclass::text)
										  FROM unnest(ext.extconfig, ext.extcondition) AS u(c, w)), 'none')
	  FROM ext
) lines
ORDER BY line;
