# Scale-out on Citus (docs/scale-out.md), on a coordinator and two workers:
# a distributed photos table predicted on the workers with a model on an
# imported backbone, which no worker has imported.  The plain model fails
# there with a message naming the worker and the file's hash; its
# self-contained form, by iteration and by project name (resolved once on
# the coordinator: a Distributed Subplan), gives the coordinator's own
# answers; a compact model needs nothing; the trigger recipe labels rows as
# they are inserted into a distributed table.  Then cv_citus_distribute
# makes pgvision's own tables Citus tables with those projects in them,
# and the checks of the schema run on the shards; training runs there, in
# the session and in the background worker, for a classification and a
# detection project, whose detector then runs on the workers with the
# coordinator's boxes; and the image and region functions (no whole row
# of a Citus table passed to a function) work on the shards with their
# single-server results and errors; predictions are stored, adopted
# and suggested there, cv_tag_counts counts as before the distribution;
# and a third worker added afterwards serves the shared project's roles
# once cv_citus_sync_nodes has run.  Skipped where no citus
# extension is installed (the test command has none; docs/scale-out.md
# says how the developers get one).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $set = "$shared/datasets/azure-trees-cls";
my $od = "$shared/datasets/raccoon-od";

my $pg_config = $ENV{PG_CONFIG} // 'pg_config';
chomp(my $libdir = `$pg_config --pkglibdir 2>/dev/null` // '');
chomp(my $sharedir = `$pg_config --sharedir 2>/dev/null` // '');
plan skip_all => 'no citus extension installed (citus.so and citus.control)'
  unless $libdir ne '' && -e "$libdir/citus.so" && -e "$sharedir/extension/citus.control";

my @nodes;
# citus.local_hostname: the nodes listen on a socket directory only, and
# copying reference tables to a node added later has Citus connect to the
# coordinator by that name ("requires localhost connectivity" otherwise)
sub citus_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus'
citus.node_conninfo = 'sslmode=prefer'
citus.local_hostname = '@{[$node->host]}'
max_worker_processes = 16
max_connections = 60
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	push @nodes, $node;
	return $node;
}
citus_node($_) for ('coordinator', 'worker1', 'worker2');
my ($coord, @workers) = @nodes;
$coord->safe_psql('postgres', sprintf(q{SELECT citus_set_coordinator_host('%s', %d)}, $coord->host, $coord->port));
$coord->safe_psql('postgres', sprintf(q{SELECT citus_add_node('%s', %d)}, $_->host, $_->port)) for @workers;

# pgvision on every node (Citus runs CREATE EXTENSION on the workers); the
# backbone is imported on the coordinator only, as a user would.
$coord->safe_psql('postgres', qq{
	CREATE EXTENSION pgvision;
	SELECT cv_import_backbone('mobilenet_v1', pg_read_binary_file('$shared/models/mobilenet_v1_0.25_128_quant.tflite'));
	CREATE TABLE manifest AS
	SELECT row_number() OVER (ORDER BY line) AS id, split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
	  FROM regexp_split_to_table(pg_read_file('$set/manifest.csv'), E'\\r?\\n') AS line
	 WHERE line LIKE 'images/%';
	SELECT cv_create_project('trees', domain => 'mobilenet_v1');
	SELECT cv_create_project('compact_trees');
	SELECT count(cv_add_image('trees', pg_read_binary_file('$set/' || file), ARRAY[tag])),
	       count(cv_add_image('compact_trees', pg_read_binary_file('$set/' || file), ARRAY[tag]))
	  FROM manifest;
	SELECT cv_publish(cv_train('trees', wait => true), 'production');
	SELECT cv_publish(cv_train('compact_trees', wait => true), 'production');
	CREATE TABLE local_photos AS SELECT id, pg_read_binary_file('$set/' || file) AS img FROM manifest;
	CREATE TABLE photos (id bigint PRIMARY KEY, img bytea);
	SELECT create_distributed_table('photos', 'id');
	INSERT INTO photos SELECT * FROM local_photos;
	-- A detection project, trained after cv_citus_distribute below: 15
	-- raccoon photos with their boxes (the fewest training takes for a
	-- tag), and the same photos in a local and a distributed table.
	CREATE TABLE od_manifest AS
	SELECT row_number() OVER (ORDER BY l->>'file') AS id, '$od/' || (l->>'file') AS file, l->'regions' AS regions
	  FROM regexp_split_to_table(pg_read_file('$od/manifest.jsonl'), E'\\r?\\n') AS line,
	       LATERAL (SELECT line::jsonb) j(l)
	 WHERE line <> '' ORDER BY l->>'file' LIMIT 15;
	SELECT cv_create_project('raccoons', task => 'detection', domain => 'mobilenet_v1');
	SELECT count(cv_add_image('raccoons', pg_read_binary_file(file), regions => regions)) FROM od_manifest;
	CREATE TABLE local_od_photos AS SELECT id, pg_read_binary_file(file) AS img FROM od_manifest;
	CREATE TABLE od_photos (id bigint PRIMARY KEY, img bytea);
	SELECT create_distributed_table('od_photos', 'id');
	INSERT INTO od_photos SELECT * FROM local_od_photos;
});
is($coord->safe_psql('postgres', q{SELECT count(DISTINCT nodeport) FROM pg_dist_shard_placement}),
	'2', 'the photos are spread over both workers');
is($coord->safe_psql('postgres',
		q{SELECT string_agg(result, ',') FROM run_command_on_workers('SELECT count(*) FROM cv_backbones')}),
	'0,0', 'no worker has the backbone');

my $it = $coord->safe_psql('postgres', q{SELECT id FROM cv_iterations WHERE project = 'trees'});
my $compact_it = $coord->safe_psql('postgres', q{SELECT id FROM cv_iterations WHERE project = 'compact_trees'});
my $hash = $coord->safe_psql('postgres', q{SELECT encode(sha256, 'hex') FROM cv_backbones WHERE domain = 'mobilenet_v1'});

# Every (photo, tag, probability) of a query, in one canonical string.
sub answers
{
	my ($from) = @_;
	return $coord->safe_psql('postgres',
		qq{SELECT string_agg(id || ':' || tag || '=' || probability, ' ' ORDER BY id, tag) FROM ($from) s});
}
my $expected = answers(q{SELECT p.id, r.tag, r.probability FROM local_photos p, cv_predict('trees', p.img) r});
my $expected_compact = answers(q{SELECT p.id, r.tag, r.probability FROM local_photos p, cv_predict('compact_trees', p.img) r});
like($expected, qr/^1:\S+=\S+( \S+)+$/, 'the coordinator predicts the photos itself');

# The plain model: each worker lacks its backbone, and says which it is.
my ($rc, $out, $err) = $coord->psql('postgres',
	qq{SELECT count(*) FROM photos p, cv_predict((SELECT model FROM cv_iterations WHERE id = $it), p.img) r});
isnt($rc, 0, 'the plain model fails on the workers');
my $ports = join('|', map { $_->port } @workers);
like($err, qr/not stored on this server.*DETAIL:  Server .*port ($ports)\)?; the model names the file with SHA-256 $hash/s,
	'the message names the worker and the hash');

# Self-contained: pushed down and the coordinator's answers.
is(answers(qq{SELECT p.id, r.tag, r.probability FROM photos p,
		cv_predict((SELECT cv_self_contained((SELECT model FROM cv_iterations WHERE id = $it))), p.img) r}),
	$expected, 'a self-contained model predicts on the workers as on the coordinator');
my $by_name = q{SELECT p.id, r.tag, r.probability
	  FROM photos p, cv_predict((SELECT cv_self_contained(cv_published_model('trees'))), p.img) r};
is(answers($by_name), $expected, 'by project name, resolved on the coordinator');
my $plan = $coord->safe_psql('postgres', "EXPLAIN (COSTS OFF, VERBOSE) $by_name");
like($plan, qr/Distributed Subplan.*Output: cv_self_contained\(cv_published_model\('trees'::text\)\)/s,
	'the model is resolved once, in a subplan on the coordinator');
like($plan, qr/Task Count: \d+.*Node: host=.*Function Call: cv_predict\(\$0, p\.img\)/s,
	'and cv_predict runs in the tasks on the workers');
is(answers(qq{SELECT p.id, r.tag, r.probability FROM photos p,
		cv_predict((SELECT model FROM cv_iterations WHERE id = $compact_it), p.img) r}),
	$expected_compact, 'a compact model needs nothing on the workers');
is($coord->safe_psql('postgres',
		q{SELECT string_agg(result, ',') FROM run_command_on_workers('SELECT count(*) FROM cv_backbones')}),
	'0,0', 'and still no worker has the backbone');

# The trigger recipe: the deployed model in a reference table.
$coord->safe_psql('postgres', q{
	CREATE TABLE deployed_models (name text PRIMARY KEY, model cv_model NOT NULL);
	SELECT create_reference_table('deployed_models');
	INSERT INTO deployed_models SELECT 'trees', cv_self_contained(cv_published_model('trees'));
	CREATE TABLE new_photos (id bigint PRIMARY KEY, img bytea, label text, probability real);
	SELECT create_distributed_table('new_photos', 'id');
	CREATE FUNCTION label_photo() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		SELECT r.tag, r.probability INTO NEW.label, NEW.probability
		  FROM deployed_models m, cv_predict(m.model, NEW.img) r
		 WHERE m.name = 'trees' ORDER BY r.probability DESC, r.tag LIMIT 1;
		RETURN NEW;
	END $$;
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER label_photo BEFORE INSERT OR UPDATE OF img ON new_photos
		FOR EACH ROW EXECUTE FUNCTION label_photo();
});
is($coord->safe_psql('postgres',
		q{SELECT string_agg(result, ',') FROM run_command_on_workers($$SELECT count(*) FROM pg_trigger WHERE tgname = 'label_photo'$$)}),
	'1,1', 'the trigger is on the shards of both workers');
$coord->safe_psql('postgres', q{INSERT INTO new_photos (id, img) SELECT id, img FROM local_photos});
my $top = $coord->safe_psql('postgres', q{
	SELECT string_agg(id || ':' || tag, ' ' ORDER BY id) FROM (
		SELECT DISTINCT ON (p.id) p.id, r.tag FROM local_photos p, cv_predict('trees', p.img) r
		 ORDER BY p.id, r.probability DESC, r.tag) s});
is($coord->safe_psql('postgres', q{
	WITH n AS MATERIALIZED (SELECT id, label FROM new_photos)
	SELECT string_agg(id || ':' || label, ' ' ORDER BY id) FROM n}),
	$top, 'inserted rows are labelled with the top tag on the workers');

# pgvision's own tables as Citus tables (docs/scale-out.md, section 5),
# with the projects above in them: the catalogue and the iterations
# reference tables, the per-project data distributed by project_id.
my $pgvision_tables = q{SELECT c.oid FROM pg_class c JOIN pg_depend d ON d.objid = c.oid
	WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgvision') AND d.deptype = 'e' AND c.relkind = 'r'};
my $fkeys_sql = qq{SELECT string_agg(conrelid::regclass || ' ' || pg_get_constraintdef(oid), E'\\n' ORDER BY conrelid::regclass::text, conname)
	FROM pg_constraint WHERE contype = 'f' AND conrelid IN ($pgvision_tables)};
# Ordinary roles (docs/security.md, "On Citus"): made before the
# distribution, with a project of their own and a read share, so that
# cv_citus_distribute makes the roles of projects and shares that exist.
# Citus makes each role on the workers too.
$coord->safe_psql('postgres', q{
	CREATE ROLE tap_owner LOGIN IN ROLE pgvision_user;
	CREATE ROLE tap_reader LOGIN IN ROLE pgvision_user;
	CREATE ROLE tap_writer LOGIN IN ROLE pgvision_user;
	CREATE ROLE tap_nobody LOGIN IN ROLE pgvision_user;
	GRANT SELECT ON local_photos, manifest, photos TO pgvision_user;
	SET ROLE tap_owner;
	SELECT cv_create_project('shared_trees');
	SELECT count(cv_add_image('shared_trees', p.img, ARRAY[m.tag])) FROM local_photos p JOIN manifest m USING (id);
	SELECT cv_share_project('shared_trees', 'tap_reader');
});

my $fkeys_before = $coord->safe_psql('postgres', $fkeys_sql);
my $rows_sql = q{SELECT (SELECT count(*) FROM cv_projects) || ' ' || (SELECT count(*) FROM cv_images) || ' '
	|| (SELECT count(*) FROM cv_image_tags) || ' ' || (SELECT count(*) FROM cv_features) || ' ' || (SELECT count(*) FROM cv_iteration_store)};
my $rows_before = $coord->safe_psql('postgres', $rows_sql);
# cv_tag_counts of every project (images per tag; boxes of the detection
# project), on the local tables and again on the distributed ones
my $tag_counts_sql = q{SELECT string_agg(project || ':' || tag || ':' || image_count || ':' || region_image_count || ':' || region_count,
	' ' ORDER BY project, tag) FROM cv_tag_counts};
my $tag_counts_before = $coord->safe_psql('postgres', $tag_counts_sql);
like($tag_counts_before, qr/^compact_trees:\S+:[1-9]\d*:0:0 .* raccoons:\w+:0:15:\d+ /, 'cv_tag_counts before the distribution');
$coord->safe_psql('postgres', q{SET client_min_messages = warning; SELECT cv_citus_distribute()});
is($coord->safe_psql('postgres', qq{SELECT string_agg(logicalrelid::text || ':' || partmethod::text, ' ' ORDER BY logicalrelid::text)
		FROM pg_dist_partition WHERE logicalrelid IN ($pgvision_tables)}),
	'cv_backbones:n cv_citus_roles:n cv_domains:n cv_features:h cv_heldout_predictions:n cv_heldout_regions:n cv_image_tags:h cv_images:h '
	  . 'cv_iteration_store:n cv_iteration_tags:n cv_prediction_store:h cv_project_shares:n cv_projects:n cv_regions:h cv_tags:n',
	'cv_citus_distribute: the catalogue and iterations are reference tables, the per-project data hash-distributed');
is($coord->safe_psql('postgres', qq{SELECT count(DISTINCT colocationid) || ' ' || string_agg(DISTINCT column_to_column_name(logicalrelid, partkey), ',')
		FROM pg_dist_partition WHERE partmethod = 'h' AND logicalrelid IN ($pgvision_tables)}),
	'1 project_id', 'by project_id, all colocated');
my $fkeys_after = $coord->safe_psql('postgres', $fkeys_sql);
my $adopted = 'FOREIGN KEY (adopted_image_id, project_id) REFERENCES cv_images(id, project_id)';
(my $fkeys_expected = $fkeys_before) =~ s/\Q$adopted\E ON DELETE SET NULL \(adopted_image_id\)/$adopted/;
isnt($fkeys_expected, $fkeys_before, 'the adopted image\'s key is the one that changes');
is($fkeys_after, $fkeys_expected, 'every foreign key is back, the adopted image\'s without SET NULL');
is($coord->safe_psql('postgres', $rows_sql), $rows_before, 'every row is still there');
is($coord->safe_psql('postgres', $tag_counts_sql), $tag_counts_before, 'cv_tag_counts gives the same rows on the distributed tables');
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM pg_policy WHERE polrelid IN ($pgvision_tables)
		AND (pg_get_expr(polqual, polrelid) ~* '\\mselect\\M' OR pg_get_expr(polwithcheck, polrelid) ~* '\\mselect\\M')}),
	'0', 'no policy holds a subquery any more');
is($coord->safe_psql('postgres', q{SELECT sum(result::bigint) FROM run_command_on_shards('cv_images', 'SELECT count(*) FROM %s')}),
	$coord->safe_psql('postgres', 'SELECT count(*) FROM cv_images'), 'the images are in the shards');
my $trees_id = $coord->safe_psql('postgres', q{SELECT id FROM cv_projects WHERE name = 'trees'});
like($coord->safe_psql('postgres', qq{EXPLAIN (COSTS OFF) SELECT count(*) FROM cv_images WHERE project_id = $trees_id}),
	qr/Task Count: 1\b/, 'a project\'s images are read from one shard');
# The row checks run on the shards, reading the colocated image.
my $tag = $coord->safe_psql('postgres', q{SELECT tag FROM manifest WHERE id = 1});
my $other_tag = $coord->safe_psql('postgres', qq{SELECT tag FROM manifest WHERE tag <> '$tag' LIMIT 1});
my $new_image = $coord->safe_psql('postgres', qq{
	SELECT cv_add_image('compact_trees', pg_read_binary_file('$shared/images/cat.bmp'), ARRAY['$tag'])});
is($coord->safe_psql('postgres', qq{SELECT t.name FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = $new_image}),
	$tag, 'an image added with its tag after the distribution');
($rc, $out, $err) = $coord->psql('postgres', qq{INSERT INTO cv_image_tags (image_id, tag_id, project_id)
	SELECT $new_image, t.id, t.project_id FROM cv_tags t JOIN cv_projects p ON p.id = t.project_id
	 WHERE p.name = 'compact_trees' AND t.name = '$other_tag'});
like($err, qr/already has tag "\Q$tag\E" and project "compact_trees" is multiclass/, 'the row check runs on the shard');
# The near-duplicate check of cv_add_image on a backbone project reads the
# project's cached vectors joined to its images on the distribution column:
# a photo already in 'trees' added again with one byte appended (another
# hash, the same picture) is added and named as looking like
# the first (by image id alone Citus refused the join, "repartitioning").
my ($dup_rc, $dup_out, $dup_err) = $coord->psql('postgres', qq{SELECT cv_add_image('trees', img || '\\x00'::bytea, ARRAY['$tag'])
	  FROM local_photos WHERE id = 1});
is($dup_rc, 0, 'cv_add_image into a backbone project after the distribution, near-duplicate check on');
like($dup_err, qr/looks like image \d+ of project "trees"/, 'the near-duplicate check runs on the shards and finds the first copy');
$coord->safe_psql('postgres', qq{SELECT cv_delete_image($dup_out)}) if $dup_out =~ /^\d+$/;
# Training after the distribution (docs/scale-out.md, section 6): the
# coordinator's background worker reads the project's images from their
# shard through Citus and writes the iteration to the reference tables.
($rc, $out, $err) = $coord->psql('postgres', q{SELECT cv_train('compact_trees', wait => true)});
is($err, '', 'training with the images in distributed tables: no error');
my $dist_it = $out;
is($coord->safe_psql('postgres', qq{SELECT status || ' ' || (image_count > 0) || ' ' || (finished_at >= started_at)
		FROM cv_iterations WHERE id = $dist_it}),
	'completed true true', 'the iteration completed, with its images and its times');
like($coord->safe_psql('postgres', qq{SELECT count(*) || ' ' || bool_and(recall BETWEEN 0 AND 1)
		FROM cv_performance($dist_it) WHERE tag IS NOT NULL}),
	qr/^[1-9]\d* true$/, 'cv_performance reads its held-out predictions');
is($coord->safe_psql('postgres',
		q{SELECT string_agg(result, ',') FROM run_command_on_workers($$SELECT count(*) FROM cv_iteration_store WHERE status = 'completed' AND model IS NOT NULL$$)}),
	$coord->safe_psql('postgres', q{SELECT count(*) || ',' || count(*) FROM cv_iteration_store WHERE status = 'completed' AND model IS NOT NULL}),
	'the iterations, the new one with them, are on both workers');
$coord->safe_psql('postgres', qq{SELECT cv_unpublish(id) FROM cv_iterations WHERE project = 'compact_trees' AND published_name = 'production';
	SELECT cv_publish($dist_it, 'production')});
my $expected_new = answers(q{SELECT p.id, r.tag, r.probability FROM local_photos p, cv_predict('compact_trees', p.img) r});
like($expected_new, qr/^1:\S+=\S+( \S+)+$/, 'the new model predicts on the coordinator');
is(answers(q{SELECT p.id, r.tag, r.probability
	  FROM photos p, cv_predict((SELECT cv_self_contained(cv_published_model('compact_trees'))), p.img) r}),
	$expected_new, 'and by project name on the workers, the same answers');

# Stored predictions after the distribution (docs/predictions.md): stored
# on the project's shard, adopted (the prediction found and changed on its
# shard, the image and its tag written to the shards), and through the
# suggestion loop.  The photos with a byte appended: new bytes, the same
# picture, not yet training images of the project.
sub store_prediction
{
	my ($photo) = @_;
	return $coord->safe_psql('postgres', qq{SELECT DISTINCT r.prediction_id
		FROM local_photos p, cv_predict('compact_trees', p.img || '\\x00'::bytea, store => true) r WHERE p.id = $photo});
}
my $compact_id = $coord->safe_psql('postgres', q{SELECT id FROM cv_projects WHERE name = 'compact_trees'});
my $pred = store_prediction(2);
like($pred, qr/^\d+$/, 'a prediction stored after the distribution');
my $pred_shards_sql = qq{SELECT sum(result::bigint) FROM run_command_on_shards('cv_prediction_store', \$\$SELECT count(*) FROM %s WHERE id = $pred\$\$)};
is($coord->safe_psql('postgres', $pred_shards_sql), '1', 'on a shard');
my $pred_top = $coord->safe_psql('postgres', qq{SELECT top_tag FROM cv_predictions WHERE id = $pred});
like($pred_top, qr/^\S+$/, 'and waiting for review in cv_predictions');
my $tag_counts_pre_adopt = $coord->safe_psql('postgres', qq{SELECT image_count FROM cv_tag_counts WHERE project = 'compact_trees' AND tag = '$pred_top'});
($rc, $out, $err) = $coord->psql('postgres', qq{SELECT cv_adopt_prediction($pred)});
is($rc, 0, 'cv_adopt_prediction after the distribution');
my $adopted_image = $out;
like($err, qr/^[^\n]*NOTICE:  image $adopted_image looks like image \d+ of project "compact_trees"/,
	'and only the near-duplicate check\'s notice (run on the shards: the photo it was made from is a training image)');
is($coord->safe_psql('postgres', qq{SELECT sum(result::bigint) FROM run_command_on_shards('cv_images', \$\$SELECT count(*) FROM %s WHERE id = $adopted_image AND project_id = $compact_id\$\$)}),
	'1', 'the adopted image is on the project\'s shard');
is($coord->safe_psql('postgres', qq{SELECT string_agg(t.name, ',') FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = $adopted_image}),
	$pred_top, 'with the predicted tag');
is($coord->safe_psql('postgres', qq{SELECT (adopted_image_id = $adopted_image) || ' ' || (adopted_at IS NOT NULL) || ' ' || (image IS NULL) || ' '
		|| (SELECT count(*) FROM cv_predictions WHERE id = $pred) FROM cv_prediction_store WHERE id = $pred}),
	'true true true 0', 'the prediction marked adopted, its bytes dropped, no longer waiting for review');
is($coord->safe_psql('postgres', qq{SELECT image_count FROM cv_tag_counts WHERE project = 'compact_trees' AND tag = '$pred_top'}),
	$tag_counts_pre_adopt + 1, 'cv_tag_counts counts the adopted image');
($rc, $out, $err) = $coord->psql('postgres', qq{\\set VERBOSITY verbose
	SELECT cv_adopt_prediction($pred)});
like($err, qr/ERROR:  55000: prediction $pred was already adopted/, 'adopting it again: 55000');
my $suggested = store_prediction(3);
like($coord->safe_psql('postgres', q{SELECT string_agg(coalesce(image_id::text, 'p' || prediction_id), ',') FROM cv_suggest('compact_trees')}),
	qr/\bp$suggested\b/, 'cv_suggest lists the stored prediction (its unlabelled images read on the shard)');
my $accepted = $coord->safe_psql('postgres', qq{SELECT cv_accept_suggestion(prediction_id => $suggested)});
is($coord->safe_psql('postgres', qq{SELECT (SELECT adopted_image_id FROM cv_prediction_store WHERE id = $suggested) || ' '
		|| (SELECT count(*) FROM cv_image_tags WHERE image_id = $accepted AND project_id = $compact_id)}),
	"$accepted 1", 'cv_accept_suggestion adopts it with its suggested tag');
my $deleted = store_prediction(4);
$coord->safe_psql('postgres', qq{SELECT cv_delete_prediction($deleted)});
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM cv_prediction_store WHERE id = $deleted}), '0', 'cv_delete_prediction');


# Training in the coordinator's background worker (cv_train without wait):
# the worker's own transactions read the shards and write the reference
# tables as the session does above.
my $bg_it = $coord->safe_psql('postgres', q{SELECT cv_train('compact_trees')});
ok($coord->poll_query_until('postgres', qq{SELECT status FROM cv_iterations WHERE id = $bg_it}, 'completed'),
	'training in a background worker with the images in distributed tables')
  or diag($coord->safe_psql('postgres', qq{SELECT status || ': ' || coalesce(message, '') FROM cv_iterations WHERE id = $bg_it}));
is($coord->safe_psql('postgres', qq{SELECT (image_count > 0) || ' ' || (finished_at >= started_at) || ' ' || (model IS NOT NULL)
		FROM cv_iterations WHERE id = $bg_it}),
	'true true true', 'the background iteration has its images, its times and its model');
is($coord->safe_psql('postgres',
		qq{SELECT string_agg(result, ',') FROM run_command_on_workers(\$\$SELECT count(*) FROM cv_iteration_store WHERE id = $bg_it AND status = 'completed'\$\$)}),
	'1,1', 'and it is on both workers');

# Detection on Citus: the project distributed by cv_citus_distribute,
# trained in a background worker (its feature maps read from and written
# to the project's shard), published, and detected by project name on
# the workers with the coordinator's own boxes.
my $raccoons_id = $coord->safe_psql('postgres', q{SELECT id FROM cv_projects WHERE name = 'raccoons'});
is($coord->safe_psql('postgres', qq{SELECT (SELECT count(*) FROM cv_regions WHERE project_id = $raccoons_id) || ' '
		|| (SELECT sum(result::bigint) FROM run_command_on_shards('cv_regions', \$\$SELECT count(*) FROM %s WHERE project_id = $raccoons_id\$\$))}),
	$coord->safe_psql('postgres', q{SELECT sum(jsonb_array_length(regions)) || ' ' || sum(jsonb_array_length(regions)) FROM od_manifest}),
	'the detection project\'s regions are in the shards');
my $det_it = $coord->safe_psql('postgres', q{SET client_min_messages = warning; SELECT cv_train('raccoons')});
ok($coord->poll_query_until('postgres', qq{SELECT status FROM cv_iterations WHERE id = $det_it}, 'completed'),
	'detection training in a background worker with the images in distributed tables')
  or diag($coord->safe_psql('postgres', qq{SELECT status || ': ' || coalesce(message, '') FROM cv_iterations WHERE id = $det_it}));
is($coord->safe_psql('postgres', qq{SELECT count(*) || ' ' || count(DISTINCT f.image_id) FROM cv_features f
		WHERE f.project_id = $raccoons_id AND f.value_bytes = 2}),
	'15 15', 'its feature maps cached in the colocated cv_features shard, one row an image');
like($coord->safe_psql('postgres', qq{SELECT count(*) FROM cv_performance($det_it) WHERE tag IS NOT NULL}),
	qr/^[1-9]\d*$/, 'cv_performance of the detector');
$coord->safe_psql('postgres', qq{SELECT cv_publish($det_it, 'production')});
sub boxes
{
	my ($from) = @_;
	return $coord->safe_psql('postgres',
		qq{SELECT count(*) || ' ' || string_agg(id || ':' || tag || '=' || probability || '\@' || "left" || ',' || top || ',' || width || ',' || height,
			' ' ORDER BY id, probability DESC, "left", top) FROM ($from) s});
}
my $expected_boxes = boxes(q{SELECT p.id, d.* FROM local_od_photos p, cv_detect('raccoons', p.img) d});
like($expected_boxes, qr/^[1-9]\d* 1:/, 'the coordinator detects boxes in the photos');
my $detect_by_name = q{SELECT p.id, d.* FROM od_photos p, cv_detect((SELECT cv_self_contained(cv_published_model('raccoons'))), p.img) d};
is(boxes($detect_by_name), $expected_boxes, 'cv_detect by project name on the workers: the coordinator\'s boxes');
$plan = $coord->safe_psql('postgres', "EXPLAIN (COSTS OFF, VERBOSE) $detect_by_name");
like($plan, qr/Distributed Subplan.*Output: cv_self_contained\(cv_published_model\('raccoons'::text\)\).*Task Count: \d+.*Node: host=.*Function Call: cv_detect\(\$0, p\.img/s,
	'the detector resolved once on the coordinator, cv_detect in the tasks on the workers');

# The functions that took a whole row of cv_projects inside a query
# (cv_image_row, cv_delete_region) and the modifications by image or
# region id, on the distributed tables: the same results and errors as
# on a single server (test/sql/images.sql, regions.sql).
my $od_image = $coord->safe_psql('postgres', qq{SELECT min(id) FROM cv_images WHERE project_id = $raccoons_id});
my $region = $coord->safe_psql('postgres', qq{SELECT cv_add_region($od_image, 'kit', 0.1, 0.1, 0.2, 0.2)});
is($coord->safe_psql('postgres', qq{SELECT t.name || ' ' || r.image_id FROM cv_regions r JOIN cv_tags t ON t.id = r.tag_id WHERE r.id = $region}),
	"kit $od_image", 'cv_add_region with a new tag (a write to cv_tags after reading the image)');
$coord->safe_psql('postgres', qq{SELECT cv_delete_region($region)});
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM cv_regions WHERE id = $region}), '0', 'cv_delete_region');
($rc, $out, $err) = $coord->psql('postgres', qq{\\set VERBOSITY verbose
	SELECT cv_delete_region($region)});
like($err, qr/ERROR:  42704: region $region does not exist/, 'a region deleted: its error and SQLSTATE');
$coord->safe_psql('postgres', q{SELECT cv_delete_tag('raccoons', 'kit')});
$coord->safe_psql('postgres', qq{SELECT cv_retag_image($new_image, ARRAY['$other_tag'])});
is($coord->safe_psql('postgres', qq{SELECT string_agg(t.name, ',') FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = $new_image}),
	$other_tag, 'cv_retag_image');
$coord->safe_psql('postgres', qq{SELECT cv_untag_image($new_image, ARRAY['$other_tag']); SELECT cv_tag_image($new_image, ARRAY['$tag'])});
is($coord->safe_psql('postgres', qq{SELECT string_agg(t.name, ',') FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = $new_image}),
	$tag, 'cv_untag_image and cv_tag_image');
($rc, $out, $err) = $coord->psql('postgres', qq{\\set VERBOSITY verbose
	SELECT cv_tag_image($new_image, ARRAY['$other_tag'])});
like($err, qr/ERROR:  23000: image $new_image already has tag "\Q$tag\E" and project "compact_trees" is multiclass/,
	'cv_tag_image: the row check\'s error on the shard');
$coord->safe_psql('postgres', qq{SELECT cv_delete_image($new_image)});
is($coord->safe_psql('postgres', qq{SELECT (SELECT count(*) FROM cv_images WHERE id = $new_image) || ' '
		|| (SELECT count(*) FROM cv_image_tags WHERE image_id = $new_image)}),
	'0 0', 'cv_delete_image: the image and its labels gone');
($rc, $out, $err) = $coord->psql('postgres', qq{\\set VERBOSITY verbose
	SELECT cv_delete_image($new_image)});
like($err, qr/ERROR:  42704: image $new_image does not exist/, 'an image deleted: its error and SQLSTATE');

# Ordinary roles on the distributed tables (docs/security.md, "On
# Citus"): the owner, a read share, a write share and a role without one
# see and change what they would on a single server, with its SQLSTATEs.
# The policies test the per-project roles, which Citus made on every node.
my $prefix = $coord->safe_psql('postgres', q{SELECT prefix FROM cv_citus_roles});
like($prefix, qr/^[a-z0-9]{8}$/, 'cv_citus_distribute chose a role prefix');
my $shared_id = $coord->safe_psql('postgres', q{SELECT id FROM cv_projects WHERE name = 'shared_trees'});
is($coord->safe_psql('postgres', q{SELECT string_agg(result, ',') FROM run_command_on_workers(
		$$SELECT p.owner || ' ' || s.grantee FROM cv_projects p JOIN cv_project_shares s ON s.project_id = p.id WHERE p.name = 'shared_trees'$$)}),
	'tap_owner tap_reader,tap_owner tap_reader', 'the workers\' copies of projects and shares name the same roles');
my $project_count = $coord->safe_psql('postgres', q{SELECT count(*) FROM cv_projects});
my $roles_sql = qq{SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pgv\\_${prefix}\\_%'};
is($coord->safe_psql('postgres', $roles_sql), 2 * $project_count, 'two roles for each project that existed');
is($coord->safe_psql('postgres', qq{SELECT string_agg(result, ',') FROM run_command_on_workers(\$\$$roles_sql\$\$)}),
	join(',', (2 * $project_count) x 2), 'on both workers too');
my $members_sql = qq{SELECT string_agg(g.rolname || '>' || m.rolname, ' ' ORDER BY g.rolname, m.rolname)
	FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
	WHERE g.rolname LIKE 'pgv\\_${prefix}\\_${shared_id}\\_%'};
my ($r_role, $w_role) = ("pgv_${prefix}_${shared_id}_r", "pgv_${prefix}_${shared_id}_w");
is($coord->safe_psql('postgres', $members_sql), "$r_role>$w_role $r_role>tap_reader $w_role>tap_owner",
	'the owner is in the write role, the read share in the read role');
# a write share made after the distribution
$coord->safe_psql('postgres', q{SET ROLE tap_owner; SELECT cv_share_project('shared_trees', 'tap_writer', 'write')});
my $members = "$r_role>$w_role $r_role>tap_reader $w_role>tap_owner $w_role>tap_writer";
is($coord->safe_psql('postgres', qq{SELECT string_agg(result, ',') FROM run_command_on_workers(\$\$$members_sql\$\$)}),
	"$members,$members", 'a write share after the distribution: its membership on both workers');

# What each role sees: images, labels, tags, projects, shares, iterations
my $seen_sql = q{SELECT (SELECT count(*) FROM cv_images) || ' ' || (SELECT count(*) FROM cv_image_tags) || ' '
	|| (SELECT count(*) FROM cv_tags) || ' ' || (SELECT count(*) FROM cv_projects) || ' '
	|| (SELECT count(*) FROM cv_iteration_store)};
sub seen_as
{
	my ($role, $sql) = @_;
	return $coord->safe_psql('postgres', "SET ROLE $role; " . ($sql // $seen_sql));
}
my $shared_rows = $coord->safe_psql('postgres', qq{SELECT (SELECT count(*) FROM cv_images WHERE project_id = $shared_id) || ' '
	|| (SELECT count(*) FROM cv_image_tags WHERE project_id = $shared_id) || ' '
	|| (SELECT count(*) FROM cv_tags WHERE project_id = $shared_id) || ' 1 0'});
like($shared_rows, qr/^[1-9]\d* [1-9]\d* 2 1 0$/, 'the shared project has images, labels and two tags');
is(seen_as('tap_owner'), $shared_rows, 'the owner sees its project\'s rows on the shards, and no other project\'s');
is(seen_as('tap_reader'), $shared_rows, 'a read share sees the same');
is(seen_as('tap_writer'), $shared_rows, 'a write share sees the same');
is(seen_as('tap_nobody'), '0 0 0 0 0', 'a role without a share sees nothing');
is(seen_as('tap_reader', q{SELECT count(*) FROM cv_project_shares}), '1', 'a grantee sees its own share');
is(seen_as('tap_owner', q{SELECT count(*) FROM cv_project_shares}), '2', 'the owner sees every share of its project');

# Writes: refused with a read share (42501) and for a role without one
# (42704, or row security's 42501 for direct SQL), as on a single server
my $image1 = $coord->safe_psql('postgres', qq{SELECT min(id) FROM cv_images WHERE project_id = $shared_id});
sub error_as
{
	my ($role, $sql) = @_;
	my ($rc, $out, $err) = $coord->psql('postgres', "SET ROLE $role; \\set VERBOSITY verbose\n$sql");
	return $err;
}
like(error_as('tap_reader', q{SELECT cv_add_image('shared_trees', (SELECT img FROM local_photos WHERE id = 1), ARRAY['x'])}),
	qr/ERROR:  42501: permission denied for project "shared_trees"/, 'a read share cannot add an image: 42501');
like(error_as('tap_reader', qq{SELECT cv_tag_image($image1, ARRAY['x'])}),
	qr/ERROR:  42501: permission denied for image $image1/, 'nor tag one');
like(error_as('tap_reader', q{SELECT cv_train('shared_trees', wait => true)}),
	qr/ERROR:  42501: permission denied for project "shared_trees"/, 'nor train');
like(error_as('tap_reader', qq{INSERT INTO cv_tags (project_id, name) VALUES ($shared_id, 'direct')}),
	qr/ERROR:  42501: new row violates row-level security policy for table "cv_tags/, 'nor write a tag by direct SQL (on the shard)');
is(seen_as('tap_reader', qq{UPDATE cv_images SET project_id = project_id WHERE project_id = $shared_id RETURNING id}), '',
	'an UPDATE by a read share finds no row');
like(error_as('tap_nobody', q{SELECT cv_add_image('shared_trees', (SELECT img FROM local_photos WHERE id = 1), ARRAY['x'])}),
	qr/ERROR:  42704: project "shared_trees" does not exist/, 'a role without a share is told the project does not exist');
like(error_as('tap_nobody', qq{SELECT cv_tag_image($image1, ARRAY['x'])}),
	qr/ERROR:  42704: image $image1 does not exist/, 'nor its images');
is(error_as('tap_nobody', qq{DELETE FROM cv_images WHERE project_id = $shared_id}), '', 'a DELETE finds nothing');
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM cv_images WHERE project_id = $shared_id}), (split / /, $shared_rows)[0],
	'and removed nothing');
is(seen_as('tap_owner', q{UPDATE cv_domains SET description = 'x' RETURNING name}), '',
	'cv_domains: an UPDATE by a pgvision_user finds no row (row security; it holds UPDATE for Citus\'s locks)');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM cv_domains WHERE description = 'x'}), '0', 'and changed nothing');

# The write share adds and tags images and trains, in the session and in
# the background worker (which trains as the owner); the read share then
# sees the iterations, their held-out rows and performance, and predicts
# by project name on the workers.
$coord->safe_psql('postgres', qq{CREATE TABLE tap_cat AS SELECT pg_read_binary_file('$shared/images/cat.bmp') AS img;
	GRANT SELECT ON tap_cat TO pgvision_user});
my $writer_image = $coord->safe_psql('postgres', q{SET ROLE tap_writer;
	SELECT cv_add_image('shared_trees', (SELECT img FROM tap_cat))});
like($writer_image, qr/^\d+$/, 'a write share adds an image');
$coord->safe_psql('postgres', qq{SET ROLE tap_writer; SELECT cv_tag_image($writer_image, ARRAY['$tag'])});
is(seen_as('tap_reader', qq{SELECT t.name FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = $writer_image}),
	$tag, 'and tags it; the read share sees the label');
my $shared_it = seen_as('tap_writer', q{SELECT cv_train('shared_trees', wait => true)});
like($shared_it, qr/^\d+$/, 'the write share trains in its session');
my $shared_bg = seen_as('tap_writer', q{SELECT cv_train('shared_trees')});
ok($coord->poll_query_until('postgres', qq{SELECT status FROM cv_iterations WHERE id = $shared_bg}, 'completed'),
	'and in the background worker, as the owner')
  or diag($coord->safe_psql('postgres', qq{SELECT status || ': ' || coalesce(message, '') FROM cv_iterations WHERE id = $shared_bg}));
my $heldout_sql = qq{SELECT (SELECT count(*) FROM cv_iterations) || ' ' || (SELECT count(*) FROM cv_iteration_tags) || ' '
	|| (SELECT count(*) FROM cv_heldout_predictions)};
my $heldout_rows = $coord->safe_psql('postgres', qq{SELECT (SELECT count(*) FROM cv_iterations WHERE project_id = $shared_id) || ' '
	|| (SELECT count(*) FROM cv_iteration_tags WHERE iteration_id IN ($shared_it, $shared_bg)) || ' '
	|| (SELECT count(*) FROM cv_heldout_predictions WHERE iteration_id IN ($shared_it, $shared_bg))});
like($heldout_rows, qr/^2 4 [1-9]\d*$/, 'two iterations with their tags and held-out predictions');
is(seen_as('tap_reader', $heldout_sql), $heldout_rows, 'the read share sees them (the iteration tables\' policies)');
is(seen_as('tap_nobody', $heldout_sql), '0 0 0', 'a role without a share sees none');
like(seen_as('tap_reader', qq{SELECT count(*) FROM cv_performance($shared_it) WHERE tag IS NOT NULL}), qr/^[1-9]\d*$/,
	'cv_performance for the read share');
like(error_as('tap_reader', qq{SELECT cv_publish($shared_it, 'production')}),
	qr/ERROR:  42501: permission denied for iteration $shared_it/, 'publishing needs write access: 42501');
seen_as('tap_writer', qq{SELECT cv_publish($shared_it, 'production')});
# A stored prediction of the shared project: the write share stores it,
# the read share may not adopt it, and the refusal names the owner (the
# project row read on the coordinator: joined to the prediction on the
# shard's node, it held that node's OID of the owner, named here as a
# number or another role)
my $shared_pred = seen_as('tap_writer', q{SELECT DISTINCT r.prediction_id
	FROM local_photos p, cv_predict('shared_trees', p.img || '\x00'::bytea, store => true) r WHERE p.id = 5});
like($shared_pred, qr/^\d+$/, 'the write share stores a prediction');
is(seen_as('tap_reader', qq{SELECT count(*) FROM cv_predictions WHERE id = $shared_pred}), '1', 'the read share sees it');
like(error_as('tap_reader', qq{SELECT cv_adopt_prediction($shared_pred)}),
	qr/ERROR:  42501: permission denied for prediction $shared_pred.*HINT:  Its owner, role tap_owner, can give write access/s,
	'the read share cannot adopt it: 42501, the hint naming the owner');
like(seen_as('tap_writer', qq{SELECT cv_adopt_prediction($shared_pred, tags => '{$tag}')}), qr/^\d+$/, 'the write share adopts it');
my $shared_expected = answers(qq{SELECT p.id, r.tag, r.probability FROM local_photos p, cv_predict('shared_trees', p.img) r});
like($shared_expected, qr/^1:\S+=\S+( \S+)+$/, 'the superuser predicts by project name on the coordinator');
is(seen_as('tap_reader', q{SELECT string_agg(id || ':' || tag || '=' || probability, ' ' ORDER BY id, tag)
		FROM (SELECT p.id, r.tag, r.probability FROM local_photos p, cv_predict('shared_trees', p.img) r) s}),
	$shared_expected, 'the read share predicts by project name on the coordinator, the same answers');
is(seen_as('tap_reader', q{SELECT string_agg(id || ':' || tag || '=' || probability, ' ' ORDER BY id, tag)
		FROM (SELECT p.id, r.tag, r.probability FROM photos p,
		      cv_predict((SELECT cv_self_contained(cv_published_model('shared_trees'))), p.img) r) s}),
	$shared_expected, 'and on the workers (the published model resolved once on the coordinator)');
like(error_as('tap_nobody', q{SELECT cv_published_model('shared_trees')}),
	qr/ERROR:  42704: project "shared_trees" does not exist/, 'a role without a share cannot');

# A project whose owner cannot log in (a group role): Citus connects to
# the workers as the current role, so the background worker, which trains
# as the owner, would fail on its first read of a shard (Citus's "not
# permitted to log in", measured before cv_train checked it); cv_train
# refuses such a background training at once and queues nothing, and a
# member that can log in trains it in its session, with its own rights
# (docs/scale-out.md, "Owners that cannot log in").
$coord->safe_psql('postgres', q{CREATE ROLE tap_group LOGIN IN ROLE pgvision_user; CREATE ROLE tap_member LOGIN IN ROLE tap_group;
	SET ROLE tap_group; SELECT cv_create_project('group_trees');
	SELECT count(cv_add_image('group_trees', p.img, ARRAY[m.tag])) FROM local_photos p JOIN manifest m USING (id);
	RESET ROLE; ALTER ROLE tap_group NOLOGIN});
my $group_iterations = q{SELECT count(*) FROM cv_iterations i JOIN cv_projects p ON p.id = i.project_id WHERE p.name = 'group_trees'};
like(error_as('tap_member', q{SELECT cv_train('group_trees')}),
	qr/ERROR:  55000: project "group_trees" cannot be trained in the background here.*DETAIL:  Its owner, role tap_group, cannot log in.*HINT:  Train it in your session with cv_train\(project, wait => true\)/s,
	'a NOLOGIN owner: cv_train without wait refuses at once, 55000, naming the owner');
is($coord->safe_psql('postgres', $group_iterations), '0', 'and queues nothing');
my $group_it = seen_as('tap_member', q{SELECT cv_train('group_trees', wait => true)});
is($coord->safe_psql('postgres', qq{SELECT status || ' ' || (image_count > 0) FROM cv_iterations WHERE id = $group_it}),
	'completed true', 'a member that can log in trains it with wait => true');

# A node added after cv_citus_distribute (docs/scale-out.md, section 5):
# citus_add_node installs pgvision there, replicate_reference_tables
# copies the reference tables to it (in binary: the owners are the
# coordinator's OIDs there), and cv_citus_sync_nodes gives it what
# cv_citus_distribute gave the first workers.  The shared project's shards
# are moved onto it; its roles then read, write, predict and count there.
my $worker3 = citus_node('worker3');
$coord->safe_psql('postgres', sprintf(q{SELECT citus_add_node('%s', %d)}, $worker3->host, $worker3->port));
is($worker3->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pgvision'}), '0.2.0',
	'citus_add_node installs pgvision on a new node');
$coord->safe_psql('postgres', q{SELECT replicate_reference_tables('block_writes')});
my $shard = $coord->safe_psql('postgres', qq{SELECT get_shard_id_for_distribution_column('cv_images', $shared_id)});
my ($from_host, $from_port) = split /\|/, $coord->safe_psql('postgres', qq{SELECT nodename || '|' || nodeport FROM pg_dist_shard_placement WHERE shardid = $shard});
$coord->safe_psql('postgres', sprintf(q{SELECT citus_move_shard_placement(%d, '%s', %d, '%s', %d, 'block_writes')},
	$shard, $from_host, $from_port, $worker3->host, $worker3->port));
is($coord->safe_psql('postgres', qq{SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = $shard}), $worker3->port,
	'the shared project\'s shards moved to the new node');
$coord->safe_psql('postgres', q{SELECT cv_citus_sync_nodes()});
is($worker3->safe_psql('postgres', q{SELECT (SELECT owner::oid FROM cv_projects WHERE name = 'shared_trees') = (SELECT oid FROM pg_roles WHERE rolname = 'tap_owner')}),
	't', 'cv_citus_sync_nodes: the new node\'s copy of the project names its own OID of the owner');
is($worker3->safe_psql('postgres', qq{SELECT count(*) FROM pg_policy WHERE polrelid IN ($pgvision_tables)
		AND (pg_get_expr(polqual, polrelid) ~* '\\mselect\\M' OR pg_get_expr(polwithcheck, polrelid) ~* '\\mselect\\M')}),
	'0', 'and no policy of its own tables holds a subquery');
my $shared_images = $coord->safe_psql('postgres', qq{SELECT count(*) FROM cv_images WHERE project_id = $shared_id});
is(seen_as('tap_reader', qq{SELECT count(*) FROM cv_images WHERE project_id = $shared_id}), $shared_images,
	'the read share reads the project\'s images on the new node');
my $shared_counts = q{SELECT string_agg(tag || ':' || image_count, ' ' ORDER BY tag) FROM cv_tag_counts WHERE project = 'shared_trees'};
is(seen_as('tap_reader', $shared_counts), $coord->safe_psql('postgres', $shared_counts), 'and its cv_tag_counts');
my $on_worker3 = q{SET citus.enable_router_execution = off;
	SELECT count(*) || ' ' || count(DISTINCT i.id) FROM cv_images i,
	       cv_predict((SELECT cv_self_contained(cv_published_model('shared_trees'))), i.image) r WHERE i.project_id = } . $shared_id;
is(seen_as('tap_reader', $on_worker3), 2 * $shared_images . " $shared_images", 'and predicts them there (two tags an image)');
my $w3_image = seen_as('tap_writer', q{SELECT cv_add_image('shared_trees', (SELECT img || '\x03'::bytea FROM local_photos WHERE id = 6), ARRAY['} . $tag . q{'])});
like($w3_image, qr/^\d+$/, 'the write share adds a tagged image on the new node');
is(seen_as('tap_reader', qq{SELECT t.name FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = $w3_image AND it.project_id = $shared_id}),
	$tag, 'its label is there');
my $w3_pred = seen_as('tap_writer', q{SELECT DISTINCT r.prediction_id
	FROM local_photos p, cv_predict('shared_trees', p.img || '\x04'::bytea, store => true) r WHERE p.id = 7});
like(seen_as('tap_writer', qq{SELECT cv_adopt_prediction($w3_pred, tags => '{$tag}')}), qr/^\d+$/,
	'and stores and adopts a prediction there');

# Unsharing, a shared role dropped, the project deleted: the roles follow
like(error_as('tap_owner', qq{SELECT cv_share_project('shared_trees', '$r_role')}),
	qr/ERROR:  22023: role $r_role is a pgvision project role/, 'a share with a project role is refused: 22023');
seen_as('tap_owner', q{SELECT cv_unshare_project('shared_trees', 'tap_writer')});
is(seen_as('tap_writer'), '0 0 0 0 0', 'unshared: the writer sees nothing');
$members = "$r_role>$w_role $r_role>tap_reader $w_role>tap_owner";
is($coord->safe_psql('postgres', qq{SELECT string_agg(result, ',') FROM run_command_on_workers(\$\$$members_sql\$\$)}),
	join(',', ($members) x 3), 'its membership gone on the three workers');
$coord->safe_psql('postgres', q{CREATE ROLE tap_leaving LOGIN IN ROLE pgvision_user;
	SET ROLE tap_owner; SELECT cv_share_project('shared_trees', 'tap_leaving');
	RESET ROLE; DROP ROLE tap_leaving});
is($coord->safe_psql('postgres', qq{SELECT string_agg(result, ',') FROM run_command_on_workers(\$\$$members_sql\$\$)}),
	join(',', ($members) x 3), 'a shared role dropped: its membership goes with it on every node');
seen_as('tap_owner', q{SELECT cv_share_project('shared_trees', 'tap_writer', 'write')});
is(seen_as('tap_writer'), seen_as('tap_reader'), 'sharing again afterwards');
seen_as('tap_owner', q{SELECT cv_delete_project('shared_trees')});
my $left_sql = qq{SELECT count(*) FROM pg_roles WHERE rolname IN ('$r_role', '$w_role')};
is($coord->safe_psql('postgres', qq{SELECT ($left_sql) || ',' || string_agg(result, ',') FROM run_command_on_workers(\$\$$left_sql\$\$)}),
	'0,0,0,0', 'the project deleted: its roles gone from every node');
is(seen_as('tap_reader'), '0 0 0 0 0', 'and the read share sees nothing');

$_->stop for reverse @nodes;
done_testing();
