# Training in background workers: a job runs to completion and reports
# progress; cancel, SIGKILL of the worker and a server restart mid-training
# end the iteration canceled or failed, never stuck in 'training', and lose
# no image, tag or earlier iteration; pgvision.max_training_workers bounds
# concurrent trainings; a job queued by a rolled-back transaction never runs;
# the waiting form returns when the iteration has ended.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $set = "$shared/datasets/clothing-small";

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
# A killed worker makes the postmaster restart every backend, as in production.
$node->append_conf('postgresql.conf', "max_worker_processes = 16\nrestart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgvision');

# 4 kinds of clothing, 40 photos each: enough feature work that a training
# takes a few seconds the first time.
my @rows;
open(my $fh, '<', "$set/manifest.csv") or die "manifest: $!";
my %per_tag;
while (my $line = <$fh>)
{
	$line =~ s/\r?\n$//;
	my ($file, $tag) = split /,/, $line;
	next unless defined $tag && $tag =~ /^(hat|pants|shoes|skirt)$/;
	next if ($per_tag{$tag} // 0) >= 40;
	$per_tag{$tag}++;
	push @rows, "('$set/$file', '$tag')";
}
close $fh;
is(scalar(@rows), 160, '160 photos picked');
$node->safe_psql('postgres', 'CREATE TABLE photos (file text, tag text); INSERT INTO photos VALUES ' . join(',', @rows));

sub make_project
{
	my ($name) = @_;
	$node->safe_psql('postgres', qq{
		SELECT cv_create_project('$name');
		SELECT count(cv_add_image('$name', pg_read_binary_file(file), ARRAY[tag])) FROM photos;
	});
}

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

# Wait until the training has begun its feature work (progress above 0).
sub wait_training
{
	my ($id) = @_;
	return $node->poll_query_until('postgres',
		"SELECT status = 'training' AND progress > 0 FROM cv_iterations WHERE id = $id");
}

sub counts
{
	return $node->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM cv_images) || \'/\' || (SELECT count(*) FROM cv_tags) || \'/\' '
		  . '|| (SELECT count(*) FROM cv_iterations WHERE status = \'completed\')');
}

# 1. A training runs in a worker, reports progress and completes.
make_project('a');
my $it = $node->safe_psql('postgres', q{SELECT cv_train('a')});
like(status($it), qr/^(queued|training)$/, 'cv_train returns at once, queued or training');
my %seen;
for (my $i = 0; $i < 600; $i++)
{
	my $p = $node->safe_psql('postgres', "SELECT status || ' ' || progress FROM cv_iterations WHERE id = $it");
	my ($s, $progress) = split / /, $p;
	$seen{partial} = 1 if $s eq 'training' && $progress > 0 && $progress < 1;
	last if $s eq 'completed' || $s eq 'failed';
	usleep(100_000);
}
is(status($it), 'completed', 'the worker completed the iteration');
ok($seen{partial}, 'progress was reported between 0 and 1 while training');
is($node->safe_psql('postgres', "SELECT progress = 1 AND precision IS NOT NULL AND model IS NOT NULL FROM cv_iterations WHERE id = $it"),
	't', 'completed with metrics and a model');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgvision training worker'}),
	'the worker exited');
my $before = counts();

# 2. Cancel mid-training.
make_project('b');
$it = $node->safe_psql('postgres', q{SELECT cv_train('b')});
ok(wait_training($it), 'second training started');
$node->safe_psql('postgres', "SELECT cv_cancel_training($it)");
ok(wait_status($it, 'canceled'), 'cancel ends the iteration canceled');

# 3. SIGKILL of the worker mid-training: the postmaster restarts every
# backend; the iteration reads failed at once and is recorded so.
$node->safe_psql('postgres', q{DELETE FROM cv_features});
$it = $node->safe_psql('postgres', q{SELECT cv_train('b')});
ok(wait_training($it), 'training to kill started');
my $pid = $node->safe_psql('postgres', "SELECT worker_pid FROM cv_iteration_store WHERE id = $it");
ok($pid > 0, 'worker pid recorded');
kill 'KILL', $pid;
ok($node->poll_query_until('postgres', "SELECT status FROM cv_iterations WHERE id = $it", 'failed'),
	'killed worker: iteration reads failed');
like($node->safe_psql('postgres', "SELECT message FROM cv_iterations WHERE id = $it"),
	qr/process exited or the server restarted/, 'with a message saying why');
$node->safe_psql('postgres', 'SELECT cv_reap_iterations()');
is($node->safe_psql('postgres', "SELECT status FROM cv_iteration_store WHERE id = $it"), 'failed',
	'and is recorded failed');

# 4. Server restart mid-training.
$node->safe_psql('postgres', q{DELETE FROM cv_features});
$it = $node->safe_psql('postgres', q{SELECT cv_train('b')});
ok(wait_training($it), 'training to interrupt started');
$node->restart;
is(status($it), 'failed', 'restart: iteration reads failed');
isnt($node->safe_psql('postgres', "SELECT status FROM cv_iteration_store WHERE id = $it"), 'completed',
	'and never completed');
$node->safe_psql('postgres', 'SELECT cv_reap_iterations()');
is($node->safe_psql('postgres', "SELECT count(*) FROM cv_iteration_store WHERE status = 'training'"), '0',
	'nothing stuck in training');
is(counts(), '320/8/1', 'no image, tag or earlier iteration lost') or diag("before: $before");

# 5. Two trainings at once with one slot: the second waits queued, then runs.
$node->safe_psql('postgres', q{LOAD 'pgvision'; ALTER SYSTEM SET pgvision.max_training_workers = 1; SELECT pg_reload_conf()});
$node->safe_psql('postgres', q{DELETE FROM cv_features});
my $first = $node->safe_psql('postgres', q{SELECT cv_train('a')});
my $second = $node->safe_psql('postgres', q{SELECT cv_train('b')});
my $max_running = 0;
my $second_waited = 0;
for (my $i = 0; $i < 1200; $i++)
{
	my ($running, $s1, $s2) = split /\|/, $node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM cv_iterations WHERE status = 'training'), "
		  . "(SELECT status FROM cv_iterations WHERE id = $first), (SELECT status FROM cv_iterations WHERE id = $second)");
	$max_running = $running if $running > $max_running;
	$second_waited = 1 if $s1 eq 'training' && $s2 eq 'queued';
	last if $s1 eq 'completed' && $s2 eq 'completed';
	usleep(50_000);
}
is(status($first) . ' ' . status($second), 'completed completed', 'both trainings completed');
is($max_running, 1, 'never more than pgvision.max_training_workers at once');
ok($second_waited, 'the second waited queued while the first trained');

# 5b. A job still queued when the server restarts stays queued (no worker
# exists for it) until cv_resume_training() starts one.
$node->safe_psql('postgres', q{DELETE FROM cv_features});
$first = $node->safe_psql('postgres', q{SELECT cv_train('a')});
$second = $node->safe_psql('postgres', q{SELECT cv_train('b')});
ok(wait_training($first), 'first training started');
is(status($second), 'queued', 'second queued behind it');
$node->restart;
is(status($first) . ' ' . status($second), 'failed queued', 'after the restart: first failed, second still queued');
is($node->safe_psql('postgres', 'SELECT cv_resume_training()'), '1', 'cv_resume_training() reports one queued job');
ok(wait_status($second, 'completed'), 'and the queued job then trains to completion');
is($node->safe_psql('postgres', "SELECT status FROM cv_iteration_store WHERE id = $first"), 'failed',
	'the interrupted one is recorded failed');
is($node->safe_psql('postgres', 'SELECT cv_resume_training()'), '0', 'nothing left queued');

# 6. With two slots, two trainings run side by side.
$node->safe_psql('postgres', q{LOAD 'pgvision'; ALTER SYSTEM SET pgvision.max_training_workers = 2; SELECT pg_reload_conf()});
$node->safe_psql('postgres', q{DELETE FROM cv_features});
$first = $node->safe_psql('postgres', q{SELECT cv_train('a')});
$second = $node->safe_psql('postgres', q{SELECT cv_train('b')});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM cv_iterations WHERE id IN ($first, $second) AND status = 'training'"),
	'two trainings ran concurrently');
ok(wait_status($first, 'completed') && wait_status($second, 'completed'), 'both completed');

# 7. A job queued by a transaction that rolls back never runs.
my $n = $node->safe_psql('postgres', 'SELECT count(*) FROM cv_iteration_store');
$node->safe_psql('postgres', q{BEGIN; SELECT cv_train('a'); ROLLBACK;});
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgvision training worker'}),
	'the launched worker exits');
is($node->safe_psql('postgres', 'SELECT count(*) FROM cv_iteration_store'), $n, 'no iteration was added');

# 8. The waiting form returns only when the iteration has ended, having
# trained in the calling backend.
my $w = $node->safe_psql('postgres', q{
	SELECT cv_train('a', wait => true) AS w \gset
	SELECT s.status || ' ' || (s.worker_pid = pg_backend_pid()) FROM cv_iteration_store s WHERE s.id = :w
});
is($w, 'completed true', 'wait => true returns a completed iteration trained in the caller');

$node->stop;
done_testing();
