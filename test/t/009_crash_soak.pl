# Crash soak: a training is killed mid-work, round after round, by a
# SIGKILL of its background worker (the postmaster then restarts every
# backend) and, in alternate rounds, by a SIGKILL of the postmaster itself
# (the test starts the server again once every old process is gone).  After
# each restart: no iteration reads 'training', the killed one reads failed,
# every project, tag, image, label, region, ended iteration (model bytes,
# figures, held-out rows) and cached feature row taken before the kill is
# there unchanged (counts and content hashes), the published models predict
# as before, and a new training succeeds (and records the killed one failed).
#
# PGVISION_SOAK_ROUNDS sets the rounds of each kind (default 5: the test
# command); tools/soak.sh runs 20 of each and sums up the "soak round" lines
# this test prints.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $rounds = $ENV{PGVISION_SOAK_ROUNDS} // 5;
die "PGVISION_SOAK_ROUNDS must be a positive integer" unless $rounds =~ /^[1-9][0-9]*$/;

my $node = PostgreSQL::Test::Cluster->new('soak');
$node->init;
# A killed worker makes the postmaster restart every backend, as in production.
$node->append_conf('postgresql.conf', "max_worker_processes = 16\nrestart_after_crash = on\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# ---- the data that must survive ----

# 'soak' (compact, 4 tags x 40 clothing photos): the project every round
# trains and kills; a training that must compute its 160 feature rows takes
# a second or two, long enough to be killed while it works.  'kept' (on an
# imported backbone, MobileNet V1 0.25: the backbone's weights live in
# cv_backbones, and its model must predict after each restart) is trained
# once and never again; its feature rows are the cache that must survive.
# 'boxes' holds detection images with regions; a detection training takes
# tens of seconds, too long for a soak in the test command, so it is not
# trained, only kept.
sql(qq{
	CREATE EXTENSION pgvision;
	SELECT cv_import_backbone('mobilenet_v1_025',
	                          pg_read_binary_file('$shared/models/mobilenet_v1_0.25_128_quant.tflite'));
	CREATE TABLE clothing AS
	SELECT file, tag, n FROM (
	  SELECT '$shared/datasets/clothing-small/' || split_part(l, ',', 1) AS file, split_part(l, ',', 2) AS tag,
	         row_number() OVER (PARTITION BY split_part(l, ',', 2) ORDER BY l) AS n
	    FROM regexp_split_to_table(pg_read_file('$shared/datasets/clothing-small/manifest.csv'), E'\\r?\\n') l
	   WHERE split_part(l, ',', 2) IN ('hat', 'pants', 'shoes', 'skirt', 'dress', 'shorts')) s
	 WHERE n <= 40;
	SELECT cv_create_project('soak');
	SELECT cv_create_tag('soak', 'none of these', negative => true);
	SELECT cv_create_project('kept', domain => 'mobilenet_v1_025');
	SELECT cv_create_project('boxes', task => 'detection', domain => 'mobilenet_v1_025');
});
is(sql(q{SELECT count(cv_add_image('soak', pg_read_binary_file(file), ARRAY[tag])) FROM clothing
          WHERE tag IN ('hat', 'pants', 'shoes', 'skirt')}), '160', '160 photos in the project the soak trains');
is(sql(q{SELECT count(cv_add_image('kept', pg_read_binary_file(file), ARRAY[tag])) FROM clothing
          WHERE tag IN ('dress', 'shorts') AND n <= 10}), '20', '20 photos in the project trained once');
my $od = "$shared/datasets/raccoon-od";
sql(qq{
	CREATE TABLE raccoons AS
	SELECT line::jsonb AS l FROM regexp_split_to_table(pg_read_file('$od/manifest.jsonl'), E'\\r?\\n') line
	 WHERE line <> '' ORDER BY line LIMIT 12;
});
is(sql(qq{SELECT count(cv_add_image('boxes', pg_read_binary_file('$od/' || (l->>'file')), regions => l->'regions'))
           FROM raccoons}), '12', '12 detection photos with regions');
is(sql('SELECT count(*) FROM cv_regions'), sql(q{SELECT sum(jsonb_array_length(l->'regions')) FROM raccoons}),
	'every region of their manifest lines stored');

my $first = sql(q{SELECT cv_train('soak', wait => true)});
my $kept = sql(q{SELECT cv_train('kept', wait => true)});
sql(qq{SELECT cv_publish($first, 'soak-1'); SELECT cv_publish($kept, 'kept-1')});
is(sql(q{SELECT count(*) FROM cv_iterations WHERE status = 'completed' AND model IS NOT NULL AND published_name IS NOT NULL}), '2',
	'two earlier iterations completed with models, published');

# A photo per project, predicted through its published iteration by
# project name: the models must answer the same after every restart.
sql(q{
	CREATE TABLE probe AS
	SELECT 'soak' AS project, pg_read_binary_file(file) AS photo FROM clothing WHERE tag = 'hat' AND n = 40
	UNION ALL
	SELECT 'kept', pg_read_binary_file(file) FROM clothing WHERE tag = 'dress' AND n = 40;
});

# Counts and content hashes of everything a crash must not touch, one line
# per table; iterations (and the rows that hang off them) up to $last, the
# newest id when the snapshot was taken.  Images are hashed by their bytes,
# not only by the stored sha256 column.
sub fingerprint
{
	my ($last) = @_;
	return sql(qq{
		SELECT 'projects ' || count(*) || ' ' || md5(string_agg(concat_ws(':', id, name, task, domain, owner), ',' ORDER BY id)) FROM cv_projects
		UNION ALL
		SELECT 'tags ' || count(*) || ' ' || md5(string_agg(concat_ws(':', id, project_id, name, negative), ',' ORDER BY id)) FROM cv_tags
		UNION ALL
		SELECT 'images ' || count(*) || ' ' || md5(string_agg(concat_ws(':', id, project_id, encode(sha256, 'hex'),
		       md5(image::bytea), sha256(image::bytea) = sha256, width, height, created_at), ',' ORDER BY id)) FROM cv_images
		UNION ALL
		SELECT 'labels ' || count(*) || ' ' || md5(string_agg(image_id || ':' || tag_id, ',' ORDER BY image_id, tag_id)) FROM cv_image_tags
		UNION ALL
		SELECT 'regions ' || count(*) || ' ' || md5(string_agg(concat_ws(':', id, image_id, tag_id, "left", top, width, height), ',' ORDER BY id)) FROM cv_regions
		UNION ALL
		SELECT 'backbones ' || count(*) || ' ' || md5(string_agg(domain || ':' || md5(file) || ':' || encode(sha256, 'hex'), ',' ORDER BY domain)) FROM cv_backbones
		UNION ALL
		SELECT 'iterations ' || count(*) || ' ' || md5(string_agg(concat_ws(':', id, project_id, status, message, progress,
		       md5(model::bytea), image_count, tag_count, "precision", recall, mean_ap, folds, published_name, finished_at), ',' ORDER BY id))
		  FROM cv_iteration_store WHERE id <= $last
		UNION ALL
		SELECT 'iteration tags ' || count(*) || ' ' || md5(string_agg(concat_ws(':', iteration_id, position, tag_id, name, "precision", recall, average_precision), ',' ORDER BY iteration_id, position))
		  FROM cv_iteration_tags WHERE iteration_id <= $last
		UNION ALL
		SELECT 'held-out ' || count(*) || ' ' || md5(string_agg(concat_ws(':', iteration_id, image_id, fold, labels, probabilities), ',' ORDER BY iteration_id, image_id))
		  FROM cv_heldout_predictions WHERE iteration_id <= $last
		UNION ALL
		SELECT 'predictions ' || string_agg(p.project || ' ' || r, '; ' ORDER BY p.project) FROM probe p,
		       LATERAL (SELECT string_agg(tag || '=' || round(probability::numeric, 6), ',' ORDER BY tag) r
		                  FROM cv_predict(p.project, p.photo)) x
	});
}

# The feature cache: a training may add rows (those it committed before it
# was killed), but every row there before must be there after, unchanged.
sub feature_rows
{
	my %rows = map { split / /, $_, 2 } split /\n/,
	  sql(q{SELECT image_id || ':' || domain || ' ' || md5(features) || ':' || computed_at FROM cv_features});
	return \%rows;
}

sub failures { return scalar grep { !$_ } Test::More->builder->summary; }

# A process is gone when /proc no longer has it, or has only its zombie
# (whoever inherits an orphan may be slow to reap it).
sub process_gone
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return !kill(0, $pid);
	my $stat = <$fh>;
	close $fh;
	return defined $stat && $stat =~ /^\d+ \(.*\) Z/;
}

# Wait (polling every 20 ms, up to $seconds) until $check returns true;
# returns whether it did.
sub wait_until
{
	my ($seconds, $check) = @_;
	my $deadline = time + $seconds;
	while (time < $deadline)
	{
		return 1 if $check->();
		usleep(20_000);
	}
	return $check->();
}

sub log_has
{
	my ($offset, $re) = @_;
	return slurp_file($node->logfile, $offset) =~ $re;
}

sub accepts_queries
{
	my ($stdout, $stderr);
	my $ret = $node->psql('postgres', 'SELECT 1', stdout => \$stdout, stderr => \$stderr);
	return $ret == 0 && $stdout eq '1';
}

sub wait_completed
{
	my ($id) = @_;
	return wait_until(300, sub { sql("SELECT status FROM cv_iterations WHERE id = $id") !~ /^(queued|training)$/ });
}

# One round: snapshot, train, kill the worker ($kind 'worker') or the
# postmaster ($kind 'postmaster') while it computes features, recover,
# compare, train again; prints the figures of the round and returns whether
# every check of it passed.
sub soak_round
{
	my ($kind, $round) = @_;
	my $failed_before = failures();
	my $t_round = time;
	my $name = "$kind round $round";

	# Drop the soak project's cached features, so the training has work to
	# be killed in.
	sql(q{DELETE FROM cv_features f USING cv_images i
	       WHERE i.id = f.image_id AND i.project_id = (SELECT id FROM cv_projects WHERE name = 'soak')});
	my $last = sql('SELECT max(id) FROM cv_iteration_store');
	my $before = fingerprint($last);
	my $features = feature_rows();

	# The kill comes at a point of the feature work that moves on from
	# round to round: once progress (0.5 when every feature is computed) has
	# passed 0, 0.1, 0.2 or 0.3.
	my $kill_after = 0.1 * (($round - 1) % 4);
	my $it = sql(q{SELECT cv_train('soak')});
	# The worker's pid, and every server process for a postmaster kill,
	# come with the progress that says the training is under way, so the
	# kill follows at once: a separate query took 0.7 s on a loaded machine
	# once, long enough for a compact training to finish before the kill.
	my ($progress, $pid, $others) = ('', '', '');
	ok( wait_until(
			60,
			sub {
				($progress, $pid, $others) = split /\|/, sql(
					"SELECT progress, worker_pid, (SELECT string_agg(pid::text, ',') FROM pg_stat_activity "
					  . "WHERE pid <> pg_backend_pid()) FROM cv_iteration_store "
					  . "WHERE id = $it AND status = 'training' AND progress > $kill_after");
				$progress //= '';
				return $progress ne '';
			}),
		"$name: the training is under way");
	if ($progress eq '')
	{
		# Ended before it could be caught working: nothing to kill (and the
		# pid may no longer be the worker's).
		diag(sprintf('soak round %d %s: the training was not caught working, FAILED', $round, $kind));
		return 0;
	}
	my $offset = -s $node->logfile;
	my ($t_kill, $t_gone);
	if ($kind eq 'worker')
	{
		kill 'KILL', $pid;
		$t_kill = time;
		ok(wait_until(60, sub { log_has($offset, qr/all server processes terminated; reinitializing/) }),
			"$name: the postmaster restarts every backend");
		$t_gone = time;
	}
	else
	{
		my @pids = split /,/, $others;
		my $postmaster = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];
		$node->kill9;
		$t_kill = time;
		# Until every process of the old server has exited, a new postmaster
		# refuses to start (its shared memory is still attached).  A worker
		# training on without its postmaster would hold that up for the rest
		# of its training, and finish it.
		ok(wait_until(60, sub { !grep { !process_gone($_) } $postmaster, @pids }),
			"$name: every old server process exits, the training worker among them");
		$t_gone = time;
		# A new postmaster refuses lock files (postmaster.pid, and the
		# socket's) that name a pid that still exists, and the dead
		# postmaster is a zombie, keeping its pid, until whoever inherited
		# it reaps it: this machine's init takes a second or two, and a
		# container's init may never.  It has exited (above), so the lock
		# files are stale: remove them, as an administrator would.
		if (kill(0, $postmaster))
		{
			unlink($node->data_dir . '/postmaster.pid');
			unlink($node->host . '/.s.PGSQL.' . $node->port . '.lock');
		}
		$node->start;
	}
	ok(wait_until(60, sub { log_has($offset, qr/database system is ready to accept connections/) && accepts_queries() }),
		"$name: the server accepts queries again");
	my $recovered = time - $t_kill;

	# Nothing has cleaned up yet: the view already tells the truth.
	is(sql(q{SELECT count(*) FROM cv_iterations WHERE status = 'training'}), '0',
		"$name: no iteration reads 'training'");
	is(sql("SELECT status || ': ' || message FROM cv_iterations WHERE id = $it"),
		'failed: training stopped without finishing: its process exited or the server restarted',
		"$name: the killed iteration reads failed, saying why");
	my $after = fingerprint($last);
	is($after, $before, "$name: every project, tag, image, label, region, backbone and earlier iteration is unchanged");
	my $rows = feature_rows();
	my @lost = grep { ($rows->{$_} // '') ne $features->{$_} } sort keys %$features;
	is(scalar(@lost), 0, "$name: every cached feature row is there unchanged (" . scalar(keys %$features) . ')')
	  or diag("lost or changed: @lost[0 .. ($#lost < 9 ? $#lost : 9)]");

	# A new training: it records the killed iteration failed, then trains.
	my $t_train = time;
	my $next = sql(q{SELECT cv_train('soak')});
	ok(wait_completed($next), "$name: the new training ends");
	my $retrained = time - $t_train;
	is(sql("SELECT status FROM cv_iterations WHERE id = $next"), 'completed', "$name: the new training completes")
	  or diag(sql("SELECT message FROM cv_iterations WHERE id = $next"));
	is(sql("SELECT count(*) FROM cv_iteration_store WHERE id = $next AND model IS NOT NULL AND image_count = 160"), '1',
		"$name: with a model of the 160 images");
	is(sql("SELECT status FROM cv_iteration_store WHERE id = $it"), 'failed',
		"$name: the killed iteration is recorded failed");
	is(sql(q{SELECT count(*) FROM cv_iteration_store WHERE status IN ('queued', 'training')}), '0',
		"$name: nothing left queued or training");

	my $ok = failures() == $failed_before ? 'ok' : 'FAILED';
	diag(sprintf('soak round %d %s: killed at progress %.2f, old processes gone %.2f s, '
		  . 'accepting queries %.2f s after the kill, new training %.2f s, round %.2f s, %s',
		$round, $kind, $progress || 0, $t_gone - $t_kill, $recovered, $retrained, time - $t_round, $ok));
	return $ok eq 'ok';
}

my $t0 = time;
my $failed = 0;
for my $round (1 .. $rounds)
{
	for my $kind ('worker', 'postmaster')
	{
		$failed++ unless soak_round($kind, $round);
	}
}
diag(sprintf('soak: %d rounds (%d worker kills, %d postmaster kills), %d failed, %.1f s',
	2 * $rounds, $rounds, $rounds, $failed, time - $t0));

$node->stop;
done_testing();
