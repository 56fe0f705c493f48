# Upgrades (docs/upgrades.md): a database made with the oldest release's
# own install script, filled with what users keep (an imported backbone,
# projects on compact and on the backbone, trained and published, a
# detection project with regions, trained and published, a share, stored
# predictions, one adopted), keeps every row, every model's bytes and every
# answer across ALTER EXTENSION pgvision UPDATE, and trains and predicts
# after it.  The library is the current build throughout (a server has one
# pgvision.so): the old version's SQL runs on it, as after "make install"
# and before the update.  Then the upgraded catalogue (every member of the
# extension, described in full: functions with their bodies, columns,
# constraints, indexes, triggers, policies, views, privileges, comments,
# what pg_dump is told to dump, and the rows the install script itself
# adds) must be the catalogue of a database where the current version was
# installed fresh, as must every other release's, updated in an empty
# database: a change to sql/pgvision.sql that the upgrade script lacks
# fails here, with the difference printed.
use strict;
use warnings;
use File::Basename qw(basename);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $trees = "$shared/datasets/azure-trees-cls";
my $fruit = "$shared/datasets/mslearn-fruit-cls";
my $raccoons = "$shared/datasets/raccoon-od";

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "max_worker_processes = 16\n");
$node->start;

# The released versions: those whose frozen install script (pgvision--X.sql,
# no "--X--Y") is installed beside the current one.  The data goes into the
# oldest, so that the update runs every upgrade script in turn, as for a
# user of that release (PGVISION_UPGRADE_FROM names another); the others'
# catalogues are checked after their update too, in empty databases.
my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'pgvision'});
my $extdir = $node->config_data('--sharedir') . '/extension';
my @released = sort { version_cmp($a, $b) } grep { $_ ne $current }
  map { basename($_) =~ /^pgvision--([0-9.]+)\.sql$/ ? $1 : () } glob("$extdir/pgvision--*.sql");
my $from = $ENV{PGVISION_UPGRADE_FROM} // $released[0];
ok(defined $from, "a released version to upgrade from (installed: @released; current $current)")
  or BAIL_OUT("no frozen install script of a released version under $extdir");

sub version_cmp
{
	my @a = split /\./, $_[0];
	my @b = split /\./, $_[1];
	while (@a || @b)
	{
		my $c = (shift(@a) // 0) <=> (shift(@b) // 0);
		return $c if $c;
	}
	return 0;
}

$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('upgraded', "CREATE EXTENSION pgvision VERSION '$from'");
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'pgvision'}),
	$from, "installed $from from its own script");

# 1. Fill it.  The detection training (15 photos, the fewest it accepts
# for a tag: 3 folds and the final fit, 32 s of CPU on 2 threads, most of
# this test's cost) runs in a worker while the rest is added and trained.
$node->safe_psql('upgraded', qq{
	SET client_min_messages = warning;	-- near-duplicate notices of the fruit set
	CREATE ROLE upgrade_reader LOGIN;
	GRANT pgvision_user TO upgrade_reader;
	SELECT cv_import_backbone('mobilenet_v1', pg_read_binary_file('$shared/models/mobilenet_v1_0.25_128_quant.tflite'));
	CREATE TABLE photos AS
	SELECT 'trees' AS project, '$trees/' || split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag, NULL::jsonb AS regions
	  FROM regexp_split_to_table(pg_read_file('$trees/manifest.csv'), E'\\r?\\n') AS line WHERE line LIKE 'images/%'
	UNION ALL
	SELECT 'fruit', '$fruit/' || split_part(line, ',', 1), split_part(line, ',', 2), NULL
	  FROM regexp_split_to_table(pg_read_file('$fruit/manifest.csv'), E'\\r?\\n') AS line WHERE line LIKE 'images/%'
	UNION ALL
	(SELECT 'raccoons', '$raccoons/' || (l->>'file'), NULL, l->'regions'
	   FROM regexp_split_to_table(pg_read_file('$raccoons/manifest.jsonl'), E'\\r?\\n') AS line,
	        LATERAL (SELECT line::jsonb) j(l)
	  WHERE line <> '' ORDER BY l->>'file' LIMIT 15);
	SELECT cv_create_project('raccoons', task => 'detection', domain => 'mobilenet_v1');
	SELECT count(cv_add_image('raccoons', pg_read_binary_file(file), regions => regions)) FROM photos WHERE project = 'raccoons';
	CREATE TABLE detection AS SELECT cv_train('raccoons') AS iteration;
	SELECT cv_create_project('trees');
	SELECT count(cv_add_image('trees', pg_read_binary_file(file), ARRAY[tag])) FROM photos WHERE project = 'trees';
	SELECT cv_publish(cv_train('trees', wait => true), 'production');
	SELECT cv_create_project('fruit', domain => 'mobilenet_v1');
	SELECT count(cv_add_image('fruit', pg_read_binary_file(file), ARRAY[tag])) FROM photos WHERE project = 'fruit';
	SELECT cv_publish(cv_train('fruit', wait => true), 'production');
	SELECT cv_create_tag('fruit', 'pear');
	SELECT cv_share_project('trees', 'upgrade_reader', access => 'read');
	SELECT cv_share_project('fruit', 'upgrade_reader', access => 'write');
	SELECT count(*) FROM cv_predict('trees', pg_read_binary_file('$shared/images/sunflower.bmp'), store => true);
	SELECT cv_adopt_prediction((SELECT DISTINCT prediction_id FROM cv_predict('fruit',
		pg_read_binary_file('$shared/images/cat.bmp'), store => true)), tags => '{pear}');
});
my $detection = $node->safe_psql('upgraded', 'SELECT iteration FROM detection');
ok($node->poll_query_until('upgraded', "SELECT status FROM cv_iterations WHERE id = $detection", 'completed'),
	'the detection project trained in a worker')
  or diag($node->safe_psql('upgraded', "SELECT status || ': ' || coalesce(message, '') FROM cv_iterations WHERE id = $detection"));
$node->safe_psql('upgraded', qq{
	SELECT cv_publish($detection, 'production');
	SELECT count(*) FROM cv_detect('raccoons', pg_read_binary_file('$raccoons/images/raccoon-119.jpg'), store => true);
});
is($node->safe_psql('upgraded', q{
	SELECT (SELECT count(*) FROM cv_projects) || ' ' || (SELECT count(*) FROM cv_tags) || ' '
	    || (SELECT count(*) FROM cv_images) || ' ' || (SELECT count(*) FROM cv_regions) || ' '
	    || (SELECT count(*) FROM cv_iterations WHERE status = 'completed' AND published_name IS NOT NULL) || ' '
	    || (SELECT count(*) FROM cv_backbones) || ' ' || (SELECT count(*) FROM cv_project_shares) || ' '
	    || (SELECT count(*) || '/' || count(adopted_at) FROM cv_prediction_store)}),
	'3 7 66 15 3 1 2 3/1',
	'filled: 3 projects, 7 tags, 50 + 15 images and an adopted one, 15 boxes, 3 published models, a backbone, 2 shares, 3 stored predictions');

# What must not change: every table and view of the extension (row count
# and md5 of its rows in order), every sequence, every model's bytes.  The
# relations and their columns are taken before the update: a relation or
# column it drops fails the query, and the rows are compared on the columns
# they had (a column an upgrade adds is not a changed row).
my @relations = split /\n/, $node->safe_psql('upgraded', q{
	SELECT c.oid::regclass || '|' || c.relkind::text || '|'
	    || coalesce((SELECT string_agg('t.' || quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
	                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
	  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
	 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgvision')
	 ORDER BY 1});
cmp_ok(scalar(@relations), '>=', 20, scalar(@relations) . ' tables, views and sequences belong to the extension');

sub contents
{
	my @parts;
	for (@relations)
	{
		my ($rel, $kind, $columns) = split /\|/;
		push @parts, $kind eq 'S'
		  ? "SELECT '$rel: ' || last_value || ' ' || is_called FROM $rel"
		  # the md5 of the sorted md5s of the rows: each row's text made once
		  : "SELECT '$rel: ' || count(*) || ' rows, md5 ' || md5(coalesce(string_agg(h, E'\\n' ORDER BY h COLLATE \"C\"), ''))
		       FROM (SELECT md5(ROW($columns)::text) AS h FROM $rel t) r";
	}
	push @parts, q{SELECT 'model ' || id || ': ' || md5(bytea(model)) FROM cv_iteration_store WHERE model IS NOT NULL};
	return $node->safe_psql('upgraded', join("\nUNION ALL\n", @parts) . "\nORDER BY 1");
}

# What the models answer: by model, by project name, by published name,
# with bytea and cv_image, on photos in and out of the training sets; the
# held-out figures; what the models hold; the backbone itself.
my $photos = "(VALUES ('$shared/images/cat.bmp'), ('$shared/images/sunflower.bmp'), ('$trees/images/Hemlock/hemlock_10.jpg'),
	('$fruit/images/banana/IMG_20200229_164947.jpg'), ('$raccoons/images/raccoon-115.jpg'), ('$raccoons/images/raccoon-117.jpg')) f(file)";
my %answers_sql = (
	'cv_predict by project' => qq{SELECT string_agg(pr || ' ' || basename(file) || ' ' || p.tag || ':' || p.probability, ', ' ORDER BY pr, file, p.tag)
		FROM $photos, unnest('{trees,fruit}'::text[]) pr, cv_predict(pr, pg_read_binary_file(file)) p},
	'cv_predict by published name' => qq{SELECT string_agg(pr || ' ' || basename(file) || ' ' || p.tag || ':' || p.probability, ', ' ORDER BY pr, file, p.tag)
		FROM $photos, unnest('{trees,fruit}'::text[]) pr, cv_predict(pr, pg_read_binary_file(file), 'production') p},
	'cv_predict by model' => qq{SELECT string_agg(i.id || ' ' || basename(file) || ' ' || p.tag || ':' || p.probability, ', ' ORDER BY i.id, file, p.tag)
		FROM $photos, cv_iterations i, cv_predict(i.model, cv_image(pg_read_binary_file(file))) p WHERE i.task <> 'detection'},
	'cv_detect by project' => qq{SELECT string_agg(basename(file) || ' ' || concat_ws(' ', d.tag, d.probability, d."left", d.top, d.width, d.height), ', '
		ORDER BY file, d.probability DESC, d."left") FROM $photos, cv_detect('raccoons', pg_read_binary_file(file)) d},
	'cv_detect by published name' => qq{SELECT string_agg(basename(file) || ' ' || concat_ws(' ', d.tag, d.probability, d."left", d.top, d.width, d.height), ', '
		ORDER BY file, d.probability DESC, d."left") FROM $photos, cv_detect('raccoons', pg_read_binary_file(file), 'production', threshold => 0.05) d},
	'cv_detect by model' => qq{SELECT string_agg(basename(file) || ' ' || concat_ws(' ', d.tag, d.probability, d."left", d.top, d.width, d.height), ', '
		ORDER BY file, d.probability DESC, d."left") FROM $photos, cv_iterations i, cv_detect(i.model, pg_read_binary_file(file)) d WHERE i.task = 'detection'},
	'cv_performance' => q{SELECT string_agg(concat_ws(' ', i.id, p.tag, p."precision", p.recall, p.average_precision, p.image_count), ', ' ORDER BY i.id, p.tag)
		FROM cv_iterations i, cv_performance(i.id) p},
	'cv_model_info' => q{SELECT string_agg(i.id || ' ' || m::text, ', ' ORDER BY i.id) FROM cv_iterations i, cv_model_info(i.model) m},
	'cv_backbone_classify' => qq{SELECT string_agg(basename(file) || ' ' || b.label_index || ':' || b.score, ', ' ORDER BY file, b.label_index)
		FROM $photos, cv_backbone_classify('mobilenet_v1', pg_read_binary_file(file), 2) b});

sub answers
{
	return { map { $_ => $node->safe_psql('upgraded', $answers_sql{$_}) } keys %answers_sql };
}

$node->safe_psql('upgraded', q{CREATE FUNCTION basename(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT regexp_replace($1, '^.*/', '') $$});
my $contents_before = contents();
my $answers_before = answers();
like($contents_before, qr/^cv_features: [1-9][0-9]* rows/m, 'features are cached before the update');
for (sort keys %$answers_before)
{
	isnt($answers_before->{$_}, '', "$_ answers before the update");
}
like($answers_before->{'cv_detect by project'}, qr/raccoon-11[57]\.jpg raccoon /, 'the detector finds a raccoon before the update');

# 2. The update.
$node->safe_psql('upgraded', 'ALTER EXTENSION pgvision UPDATE');
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'pgvision'}),
	$current, "ALTER EXTENSION pgvision UPDATE went from $from to $current, the control file's default");
isnt($from, $current, 'the versions differ');

my $contents_after = contents();
ok($contents_after eq $contents_before, 'every row of every table and view, every sequence and every model is as it was')
  or diag(line_diff($contents_before, $contents_after));
my $answers_after = answers();
for (sort keys %$answers_before)
{
	is($answers_after->{$_}, $answers_before->{$_}, "$_ answers as before");
}

# Training and prediction after the update: trees retrains from its cached
# features (no new ones), the new model is published and answers; the read
# share still lets its grantee predict.
my $features = $node->safe_psql('upgraded', 'SELECT count(*) FROM cv_features');
my $retrained = $node->safe_psql('upgraded', q{SELECT cv_train('trees', wait => true)});
is($node->safe_psql('upgraded', "SELECT status FROM cv_iterations WHERE id = $retrained"), 'completed',
	'a training after the update completes');
is($node->safe_psql('upgraded', 'SELECT count(*) FROM cv_features'), $features, '... from the features cached before it');
$node->safe_psql('upgraded', "SELECT cv_publish($retrained, 'after-update')");
is($node->safe_psql('upgraded', qq{SELECT count(*) || ' ' || round(sum(probability)::numeric, 3)
	FROM cv_predict('trees', pg_read_binary_file('$trees/images/Japanese_Cherry/japanese_cherry_3.jpg'), 'after-update')}),
	'2 1.000', 'the new model predicts: two tags, probabilities summing to 1');
is($node->safe_psql('upgraded', q{SELECT count(*) FROM cv_predict('trees', (SELECT bytea(i.image) FROM cv_images i
	JOIN cv_projects p ON p.id = i.project_id WHERE p.name = 'trees' ORDER BY i.id LIMIT 1))},
	extra_params => [ '-U', 'upgrade_reader' ]), '2', 'the read share still lets its grantee predict');

# 3. The catalogue of the upgraded database against a fresh install's.
$node->safe_psql('fresh', 'CREATE EXTENSION pgvision');
is($node->safe_psql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'pgvision'}), $current,
	"the fresh database has $current");

my $catalogue_sql = <<'SQL';
WITH ext AS (SELECT e.* FROM pg_extension e WHERE e.extname = 'pgvision'),
members AS (
	SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
rels AS (SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid),
procs AS (SELECT p.* FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid),
types AS (SELECT t.* FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid),
-- what belongs to a member without being one itself: comments on these count too
parts(classid, objid) AS (
	SELECT classid, objid FROM members
	UNION ALL SELECT 'pg_class'::regclass, i.indexrelid FROM pg_index i JOIN rels r ON r.oid = i.indrelid
	UNION ALL SELECT 'pg_constraint'::regclass, c.oid FROM pg_constraint c
	           WHERE c.conrelid IN (SELECT oid FROM rels) OR c.contypid IN (SELECT oid FROM types)
	UNION ALL SELECT 'pg_trigger'::regclass, t.oid FROM pg_trigger t JOIN rels r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
	UNION ALL SELECT 'pg_policy'::regclass, p.oid FROM pg_policy p JOIN rels r ON r.oid = p.polrelid),
lines(line) AS (
	SELECT 'member ' || pg_describe_object(classid, objid, objsubid) FROM members
	UNION ALL
	SELECT format('extension: relocatable %s, schema %s, owner %s', extrelocatable, extnamespace::regnamespace, pg_get_userbyid(extowner)) FROM ext
	UNION ALL
	-- pg_dump dumps these tables' rows (the condition says which)
	SELECT format('extension config %s: %L', c.cfg::regclass, c.cond)
	  FROM ext, unnest(ext.extconfig, ext.extcondition) c(cfg, cond)
	UNION ALL
	SELECT format('schema %s: acl %s', n.nspname, n.nspacl) FROM pg_namespace n WHERE n.oid = (SELECT extnamespace FROM ext)
	UNION ALL
	SELECT format('function %s: kind %s, volatility %s, parallel %s, strict %s, security definer %s, leakproof %s, set %s, cost %s, rows %s, result %s, arguments %s, language %s, config %s, owner %s, acl %s, binary %s, support %s',
	              p.oid::regprocedure, p.prokind, p.provolatile, p.proparallel, p.proisstrict, p.prosecdef, p.proleakproof,
	              p.proretset, p.procost, p.prorows, pg_get_function_result(p.oid), pg_get_function_arguments(p.oid),
	              l.lanname, p.proconfig, pg_get_userbyid(p.proowner), p.proacl, p.probin, p.prosupport)
	  FROM procs p JOIN pg_language l ON l.oid = p.prolang
	UNION ALL
	-- the body, a line each, numbered so that the sort keeps their order
	SELECT format('function %s source %s: %s', p.oid::regprocedure, lpad(s.n::text, 4, '0'), s.line)
	  FROM procs p, regexp_split_to_table(p.prosrc, E'\n') WITH ORDINALITY s(line, n)
	UNION ALL
	SELECT format('type %s: type %s, length %s, by value %s, align %s, storage %s, category %s, preferred %s, delimiter %s, element %s, input %s, output %s, receive %s, send %s, typmod in %s, typmod out %s, analyze %s, subscript %s, base %s, not null %s, default %s, collation %s, owner %s, acl %s',
	              t.oid::regtype, t.typtype, t.typlen, t.typbyval, t.typalign, t.typstorage, t.typcategory, t.typispreferred,
	              t.typdelim, t.typelem::regtype, t.typinput::regprocedure, t.typoutput::regprocedure, t.typreceive::regprocedure,
	              t.typsend::regprocedure, t.typmodin::regprocedure, t.typmodout::regprocedure, t.typanalyze::regprocedure,
	              t.typsubscript::regprocedure, t.typbasetype::regtype, t.typnotnull, t.typdefault, t.typcollation, pg_get_userbyid(t.typowner), t.typacl)
	  FROM types t
	UNION ALL
	SELECT format('enum %s label %s: %s', e.enumtypid::regtype, lpad(row_number() OVER (PARTITION BY e.enumtypid ORDER BY e.enumsortorder)::text, 4, '0'), e.enumlabel)
	  FROM pg_enum e JOIN types t ON t.oid = e.enumtypid
	UNION ALL
	SELECT format('cast (%s AS %s): function %s, context %s, method %s', c.castsource::regtype, c.casttarget::regtype,
	              c.castfunc::regprocedure, c.castcontext, c.castmethod)
	  FROM pg_cast c JOIN members m ON m.classid = 'pg_cast'::regclass AND m.objid = c.oid
	UNION ALL
	SELECT format('operator %s: code %s, commutator %s, negator %s, restrict %s, join %s, hashes %s, merges %s',
	              o.oid::regoperator, o.oprcode::regprocedure, o.oprcom::regoperator, o.oprnegate::regoperator,
	              o.oprrest::regprocedure, o.oprjoin::regprocedure, o.oprcanhash, o.oprcanmerge)
	  FROM pg_operator o JOIN members m ON m.classid = 'pg_operator'::regclass AND m.objid = o.oid
	UNION ALL
	SELECT format('relation %s: kind %s, persistence %s, row security %s, forced %s, options %s, owner %s, acl %s, replica identity %s',
	              c.oid::regclass, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity, c.reloptions,
	              pg_get_userbyid(c.relowner), c.relacl, c.relreplident)
	  FROM rels c
	UNION ALL
	-- columns in their visible order: an upgrade appends a column, so a
	-- fresh install must have it last too
	SELECT format('column %s %s %s: %s, not null %s, default %s, generated %s, identity %s, collation %s, storage %s, compression %s, statistics %s, options %s, acl %s',
	              a.attrelid::regclass, lpad((row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum))::text, 3, '0'),
	              quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
	              a.attgenerated, a.attidentity, co.collname, a.attstorage, a.attcompression, a.attstattarget,
	              -- the server keeps an entry of its own here (pg_attver) whose value
	              -- differs from one database to the next
	              ARRAY(SELECT o FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\_attver=%' ORDER BY 1), a.attacl)
	  FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	  LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
	UNION ALL
	SELECT format('sequence %s: type %s, start %s, increment %s, min %s, max %s, cache %s, cycle %s, owned by %s',
	              s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
	              (SELECT string_agg(pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid), ', ')
	                 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid AND d.deptype IN ('a', 'i')))
	  FROM pg_sequence s JOIN rels c ON c.oid = s.seqrelid
	UNION ALL
	SELECT format('constraint %s on %s: %s, deferrable %s, deferred %s, validated %s, no inherit %s',
	              quote_ident(con.conname), coalesce(con.conrelid::regclass::text, con.contypid::regtype::text),
	              regexp_replace(pg_get_constraintdef(con.oid), '\s+', ' ', 'g'), con.condeferrable, con.condeferred, con.convalidated, con.connoinherit)
	  FROM pg_constraint con JOIN parts p ON p.classid = 'pg_constraint'::regclass AND p.objid = con.oid
	UNION ALL
	SELECT format('index %s on %s: %s, clustered %s, replica identity %s, options %s', i.indexrelid::regclass, i.indrelid::regclass,
	              pg_get_indexdef(i.indexrelid), i.indisclustered, i.indisreplident, ic.reloptions)
	  FROM pg_index i JOIN rels r ON r.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
	UNION ALL
	SELECT format('trigger %s on %s: %s, enabled %s', quote_ident(t.tgname), t.tgrelid::regclass, regexp_replace(pg_get_triggerdef(t.oid), '\s+', ' ', 'g'), t.tgenabled)
	  FROM pg_trigger t JOIN rels r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
	UNION ALL
	SELECT format('policy %s on %s: command %s, permissive %s, roles %s, using %s, with check %s',
	              quote_ident(p.polname), p.polrelid::regclass, p.polcmd, p.polpermissive,
	              (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END, ',' ORDER BY 1) FROM unnest(p.polroles) r),
	              -- on one line: the expressions come indented over several
	              regexp_replace(pg_get_expr(p.polqual, p.polrelid), '\s+', ' ', 'g'),
	              regexp_replace(pg_get_expr(p.polwithcheck, p.polrelid), '\s+', ' ', 'g'))
	  FROM pg_policy p JOIN rels r ON r.oid = p.polrelid
	UNION ALL
	SELECT format('view %s definition %s: %s', c.oid::regclass, lpad(s.n::text, 4, '0'), s.line)
	  FROM rels c, regexp_split_to_table(pg_get_viewdef(c.oid, true), E'\n') WITH ORDINALITY s(line, n)
	 WHERE c.relkind IN ('v', 'm')
	UNION ALL
	SELECT format('rule %s on %s: %s', quote_ident(rw.rulename), rw.ev_class::regclass, regexp_replace(pg_get_ruledef(rw.oid), '\s+', ' ', 'g'))
	  FROM pg_rewrite rw JOIN rels r ON r.oid = rw.ev_class WHERE r.relkind <> 'v' OR rw.rulename <> '_RETURN'
	UNION ALL
	SELECT format('comment on %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), regexp_replace(d.description, '\s+', ' ', 'g'))
	  FROM pg_description d JOIN parts p ON p.classid = d.classoid AND p.objid = d.objoid)
SELECT line FROM lines ORDER BY line COLLATE "C";
SQL

# The rows the install script itself adds (the built-in domain, say):
# those of a configuration table that its condition leaves to the
# extension, and the rows a fresh install has in any other table (found
# again, one by one, in the upgraded database, where users' rows are mixed
# in).  Timestamps say when it ran and are left out.
my %fresh_rows;

sub install_rows
{
	my ($db) = @_;
	my @out;
	my @tables = split /\n/, $node->safe_psql($db, q{
		SELECT c.oid::regclass || '|' || coalesce((SELECT regexp_replace(cond, '^\s*WHERE\s+', '', 'i')
		                                             FROM pg_extension e, unnest(e.extconfig, e.extcondition) x(cfg, cond)
		                                            WHERE e.extname = 'pgvision' AND x.cfg = c.oid AND cond <> ''), '')
		  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'r'
		 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgvision')
		 ORDER BY 1});
	for (@tables)
	{
		my ($table, $cond) = split /\|/, $_, 2;
		my $row = qq{(to_jsonb(t) - ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = '$table'::regclass
		              AND atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype)))};
		if ($cond ne '')
		{
			push @out, $node->safe_psql($db,
				"SELECT string_agg('row of $table: ' || ${row}::text, E'\\n' ORDER BY 1) FROM $table t WHERE NOT ($cond)");
		}
		elsif ($db eq 'fresh')
		{
			my $rows = $node->safe_psql($db, "SELECT string_agg(${row}::text, E'\\n' ORDER BY 1) FROM $table t");
			$fresh_rows{$table} = [ grep { $_ ne '' } split /\n/, $rows ];
			push @out, map { "row of $table: $_" } @{ $fresh_rows{$table} };
		}
		else
		{
			push @out, map { "row of $table: $_" } grep {
				$node->safe_psql($db, "SELECT count(*) FROM $table t WHERE $row = " . quote_literal($_) . '::jsonb') > 0
			} @{ $fresh_rows{$table} // [] };
		}
	}
	return join("\n", grep { $_ ne '' } @out);
}

sub quote_literal
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

my $fresh_catalogue = $node->safe_psql('fresh', $catalogue_sql) . "\n" . install_rows('fresh');
my $upgraded_catalogue = $node->safe_psql('upgraded', $catalogue_sql) . "\n" . install_rows('upgraded');
# The description covers what it claims to (a query that described nothing
# would be equal on both sides).
for my $kind ('member function', 'member table', 'member type', 'member cast', 'extension config', 'function',
	'type', 'cast', 'relation', 'column', 'sequence', 'constraint', 'index', 'trigger', 'policy', 'view', 'comment on', 'row of cv_domains')
{
	ok($fresh_catalogue =~ /^\Q$kind\E[ :]/m, "the catalogue describes: $kind");
}
ok($fresh_catalogue =~ /^function cv_train\(text,boolean\) source 0002: /m, 'function bodies are compared');
ok($fresh_catalogue =~ /^relation cv_images: .* acl \{.*pgvision_user=/m, 'privileges are compared');
ok($upgraded_catalogue eq $fresh_catalogue,
	"the upgraded catalogue is a fresh install's (" . (() = $fresh_catalogue =~ /\n/g) . ' lines)')
  or diag("lines only in the upgraded database (-) or only in the fresh one (+):\n"
	  . line_diff($upgraded_catalogue, $fresh_catalogue));

for my $version (grep { $_ ne $from } @released)
{
	(my $db = "from_$version") =~ s/\./_/g;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION pgvision VERSION '$version'; ALTER EXTENSION pgvision UPDATE");
	my $catalogue = $node->safe_psql($db, $catalogue_sql) . "\n" . install_rows($db);
	ok($catalogue eq $fresh_catalogue, "updated from $version, the catalogue is a fresh install's too")
	  or diag("lines only in the database updated from $version (-) or only in the fresh one (+):\n"
		  . line_diff($catalogue, $fresh_catalogue));
}

# A unified diff of two texts (diff(1), as pg_regress uses).
sub line_diff
{
	my ($a, $b) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	PostgreSQL::Test::Utils::append_to_file("$dir/upgraded", "$a\n");
	PostgreSQL::Test::Utils::append_to_file("$dir/fresh", "$b\n");
	my $out = `diff -U0 '$dir/upgraded' '$dir/fresh'`;
	$out =~ s/^(---|\+\+\+) .*\n//mg;
	return $out;
}

$node->stop;
done_testing();
