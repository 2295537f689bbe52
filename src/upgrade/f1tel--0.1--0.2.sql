/*
 * src/upgrade/f1tel--0.1--0.2.sql — ALTER EXTENSION f1tel UPDATE from 0.1 to 0.2.
 *
 * 0.2 adds f1tel.library_version(): with the library checking the installed
 * version before its workers write, a user can see why they pause.  Nothing
 * else in the schema changed; the tables, their data, the offsets and the
 * change feed are untouched.  test/t/070_upgrade.pl checks that a database
 * updated through this step equals a fresh install of 0.2.
 */
\echo Use "ALTER EXTENSION f1tel UPDATE TO '0.2'" to load this file. \quit

CREATE FUNCTION f1tel.library_version()
RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'f1tel_library_version';
COMMENT ON FUNCTION f1tel.library_version() IS
'Version of the loaded f1tel library; the workers write only while it equals the extension''s version.';
