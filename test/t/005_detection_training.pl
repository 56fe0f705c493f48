# Detection training in background workers, on real photos (raccoon-od):
# a training runs in a worker, reports progress and completes with a model
# and held-out figures; a second training after adding 3 images computes
# the feature maps of those 3 only (the float16 cache in cv_features);
# cv_cancel_training during the detector's fitting ends it canceled; a
# SIGKILL of the worker mid-fitting ends the iteration failed, the server
# comes back, and no image, region or earlier model is lost.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $set = "$shared/datasets/raccoon-od";
my $trees = "$shared/datasets/azure-trees-cls/images/Hemlock";

my $node = PostgreSQL::Test::Cluster->new('detect');
$node->init;
# A killed worker makes the postmaster restart every backend, as in production.
$node->append_conf('postgresql.conf', "max_worker_processes = 16\nrestart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pgvision;
	SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file('$shared/models/mobilenet_v2_1.0_224_quant.tflite'));
	SELECT cv_create_project('raccoons', task => 'detection', domain => 'mobilenet_v2');
});

# The manifest, parsed by the server.  Byte-identical duplicates (SOURCE.md)
# would be stored once: leave the second of each pair out.
$node->safe_psql('postgres', qq{
	CREATE TABLE manifest AS
	SELECT row_number() OVER (ORDER BY l->>'file') AS n, l->>'file' AS file, l->'regions' AS regions
	  FROM regexp_split_to_table(pg_read_file('$set/manifest.jsonl'), E'\\r?\\n') AS line,
	       LATERAL (SELECT line::jsonb) j(l)
	 WHERE line <> '' AND l->>'file' NOT IN ('images/raccoon-116.jpg', 'images/raccoon-83.jpg',
	                                         'images/raccoon-74.jpg', 'images/raccoon-98.jpg');
});

# 20 photos with boxes and 3 without (negatives): a first training takes
# several seconds (feature maps, then 3 folds and the final fit).
is($node->safe_psql('postgres', q{
	SELECT count(cv_add_image('raccoons', pg_read_binary_file('} . $set . q{/' || file), regions => regions))
	  FROM manifest WHERE n <= 20
}), '20', '20 photos with boxes added');
is($node->safe_psql('postgres', qq{
	SELECT count(cv_add_image('raccoons', pg_read_binary_file('$trees/' || f)))
	  FROM unnest('{hemlock_10.jpg,hemlock_2.jpg,hemlock_4.jpg}'::text[]) f
}), '3', '3 negatives added');

sub status
{
	my ($id) = @_;
	return $node->safe_psql('postgres', "SELECT status FROM cv_iterations WHERE id = $id");
}

sub wait_status
{
	my ($id, $want) = @_;
	return $node->poll_query_until('postgres', "SELECT status FROM cv_iterations WHERE id = $id", $want);
}

# Wait until the detector's fitting is under way: the feature maps are done
# (progress 0.4) and some fitting is reported, but not all of it.  Returns
# the progress seen, or '' if the training ended first.
sub wait_fitting
{
	my ($id) = @_;
	for (my $i = 0; $i < 3000; $i++)
	{
		my ($s, $p) = split /\|/, $node->safe_psql('postgres',
			"SELECT status, progress FROM cv_iterations WHERE id = $id");
		return $p if $s eq 'training' && $p > 0.41 && $p < 1;
		return '' if $s ne 'queued' && $s ne 'training';
		usleep(50_000);
	}
	return '';
}

sub cached_maps
{
	return $node->safe_psql('postgres',
		q{SELECT count(*) FROM cv_features WHERE domain = 'mobilenet_v2' AND value_bytes = 2});
}

sub worker_gone
{
	return $node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgvision training worker'});
}

# What must survive a cancel or a crash: images, regions, and every
# completed iteration's model bytes.
sub inventory
{
	return $node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM cv_images) || '/' || (SELECT count(*) FROM cv_regions) || '/'
		    || (SELECT count(*) FROM cv_tags) || '/'
		    || (SELECT string_agg(id || ':' || md5(model::bytea), ',' ORDER BY id)
		          FROM cv_iteration_store WHERE status = 'completed')
	});
}

# 1. A detection training runs in a worker, reports progress and completes.
my $t0 = time;
my $it = $node->safe_psql('postgres', q{SELECT cv_train('raccoons')});
like(status($it), qr/^(queued|training)$/, 'cv_train returns at once, queued or training');
my %seen;
for (my $i = 0; $i < 6000; $i++)
{
	my ($s, $p) = split /\|/, $node->safe_psql('postgres', "SELECT status, progress FROM cv_iterations WHERE id = $it");
	$seen{maps} = 1 if $s eq 'training' && $p > 0 && $p < 0.4;
	$seen{fit} = 1 if $s eq 'training' && $p > 0.41 && $p < 1;
	last if $s ne 'queued' && $s ne 'training';
	usleep(50_000);
}
my $first_time = time - $t0;
is(status($it), 'completed', 'the worker completed the detection iteration')
  or diag($node->safe_psql('postgres', "SELECT message FROM cv_iterations WHERE id = $it"));
diag(sprintf('first detection training (23 images, maps computed): %.1f s', $first_time));
ok($seen{maps}, 'progress was reported while computing feature maps');
ok($seen{fit}, 'progress was reported while fitting the detector');
is($node->safe_psql('postgres', qq{
	SELECT progress = 1 AND model IS NOT NULL AND (cv_model_info(model)).task = 'detection'
	       AND image_count = 23 AND tag_count = 1 AND folds = 3
	       AND mean_ap BETWEEN 0 AND 1 AND precision BETWEEN 0 AND 1 AND recall BETWEEN 0 AND 1
	  FROM cv_iterations WHERE id = $it}), 't', 'completed with a detection model, counts and figures');
is($node->safe_psql('postgres', "SELECT count(*) FROM cv_heldout_regions WHERE iteration_id = $it AND truth"),
	$node->safe_psql('postgres', 'SELECT count(*) FROM cv_regions'), 'every true box is in the held-out rows');
is($node->safe_psql('postgres', "SELECT count(*) FROM cv_performance($it)"), '2',
	'cv_performance reads the iteration: the tag and the overall row');
is($node->safe_psql('postgres', qq{
	SELECT tag FROM cv_detect((SELECT model FROM cv_iterations WHERE id = $it),
	                          pg_read_binary_file('$set/images/raccoon-1.jpg'), threshold => 0) LIMIT 1}),
	'raccoon', 'the model detects');
ok(worker_gone(), 'the worker exited');
is(cached_maps(), '23', 'one float16 feature-map row per image');

# 2. Add 3 photos and train again: only their maps are computed; the
# cached rows of the 23 others are left as they were.
$node->safe_psql('postgres', q{
	CREATE TABLE cache_before AS
	SELECT image_id, computed_at, md5(features) AS digest FROM cv_features WHERE value_bytes = 2;
});
is($node->safe_psql('postgres', q{
	SELECT count(cv_add_image('raccoons', pg_read_binary_file('} . $set . q{/' || file), regions => regions))
	  FROM manifest WHERE n BETWEEN 21 AND 23
}), '3', '3 more photos added');
$t0 = time;
my $it2 = $node->safe_psql('postgres', q{SELECT cv_train('raccoons')});
ok(wait_status($it2, 'completed'), 'the retraining completed');
my $second_time = time - $t0;
diag(sprintf('retraining (26 images, 3 maps computed): %.1f s', $second_time));
is(cached_maps(), '26', '26 cached feature-map rows');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM cv_features f JOIN cache_before b USING (image_id)
	 WHERE f.computed_at = b.computed_at AND md5(f.features) = b.digest
}), '23', 'the 23 cached rows were not recomputed');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM cv_features f
	 WHERE f.value_bytes = 2 AND f.computed_at > (SELECT max(computed_at) FROM cache_before)
	   AND f.image_id IN (SELECT i.id FROM cv_images i WHERE NOT EXISTS (SELECT 1 FROM cache_before b WHERE b.image_id = i.id))
}), '3', 'exactly the 3 new images had their maps computed');
is($node->safe_psql('postgres', "SELECT image_count FROM cv_iterations WHERE id = $it2"), '26',
	'the retraining used all 26 images');
ok(worker_gone(), 'the worker exited');
my $before = inventory();

# 3. Cancel while the detector is being fitted.
$it = $node->safe_psql('postgres', q{SELECT cv_train('raccoons')});
my $p = wait_fitting($it);
ok($p ne '', "fitting under way when cancelling (progress $p)")
  or diag('status ' . status($it));
$node->safe_psql('postgres', "SELECT cv_cancel_training($it)");
ok(wait_status($it, 'canceled'), 'cancel ends the detection training canceled');
is($node->safe_psql('postgres', qq{
	SELECT s.model IS NULL AND s.finished_at IS NOT NULL
	       AND NOT EXISTS (SELECT 1 FROM cv_heldout_regions h WHERE h.iteration_id = s.id)
	       AND NOT EXISTS (SELECT 1 FROM cv_iteration_tags t WHERE t.iteration_id = s.id)
	  FROM cv_iteration_store s WHERE s.id = $it}), 't', 'with no model, figures or held-out rows');
like($node->safe_psql('postgres', "SELECT message FROM cv_iterations WHERE id = $it"),
	qr/cancel/, 'and a message saying so');
ok(worker_gone(), 'the worker exited');
is(inventory(), $before, 'no image, region, tag or earlier model lost');

# 4. SIGKILL of the worker mid-fitting: the postmaster restarts every
# backend; the iteration reads failed at once and is recorded so.
$it = $node->safe_psql('postgres', q{SELECT cv_train('raccoons')});
$p = wait_fitting($it);
ok($p ne '', "fitting under way when killing (progress $p)")
  or diag('status ' . status($it));
my $pid = $node->safe_psql('postgres', "SELECT worker_pid FROM cv_iteration_store WHERE id = $it");
ok($pid > 0, 'worker pid recorded');
kill 'KILL', $pid;
ok($node->poll_query_until('postgres', "SELECT status FROM cv_iterations WHERE id = $it", 'failed'),
	'killed worker: iteration reads failed');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is back up');
like($node->safe_psql('postgres', "SELECT message FROM cv_iterations WHERE id = $it"),
	qr/process exited or the server restarted/, 'with a message saying why');
$node->safe_psql('postgres', 'SELECT cv_reap_iterations()');
is($node->safe_psql('postgres', "SELECT status FROM cv_iteration_store WHERE id = $it"), 'failed',
	'and is recorded failed');
is($node->safe_psql('postgres', "SELECT count(*) FROM cv_heldout_regions WHERE iteration_id = $it"), '0',
	'no held-out rows of the killed iteration');
is(inventory(), $before, 'no image, region, tag or earlier model lost');
is(cached_maps(), '26', 'the feature-map cache is intact');
is($node->safe_psql('postgres', qq{
	SELECT tag FROM cv_detect((SELECT model FROM cv_iterations WHERE id = $it2),
	                          pg_read_binary_file('$set/images/raccoon-1.jpg'), threshold => 0) LIMIT 1}),
	'raccoon', 'the earlier model still detects');

is($node->safe_psql('postgres', "SELECT count(*) FROM cv_iteration_store WHERE status = 'training'"), '0',
	'nothing stuck in training');

$node->stop;
done_testing();
