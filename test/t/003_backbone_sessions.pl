# A backbone domain in a background worker and in concurrent sessions: a
# project on an imported network trains in a worker; two sessions predicting
# at once, and a parallel scan, give exactly the answers one session gives
# alone (each backend has its own network workspace; nothing mutable is
# shared).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $set = "$shared/datasets/mslearn-fruit-cls";

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "max_worker_processes = 16\n");
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pgvision;
	SELECT cv_import_backbone('mobilenet_v1', pg_read_binary_file('$shared/models/mobilenet_v1_0.25_128_quant.tflite'));
	CREATE TABLE manifest AS
	SELECT '$set/' || split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
	  FROM regexp_split_to_table(pg_read_file('$set/manifest.csv'), E'\\r?\\n') AS line
	 WHERE line LIKE 'images/%';
	SELECT cv_create_project('fruit', domain => 'mobilenet_v1');
	SELECT count(cv_add_image('fruit', pg_read_binary_file(file), ARRAY[tag])) FROM manifest;
});

my $it = $node->safe_psql('postgres', q{SELECT cv_train('fruit')});
ok($node->poll_query_until('postgres', "SELECT status FROM cv_iterations WHERE id = $it", 'completed'),
	'a backbone project trains in a background worker');
is($node->safe_psql('postgres', "SELECT count(*) FROM cv_features WHERE domain = 'mobilenet_v1' AND views > 1"), '36',
	'the worker cached backbone features for every image');
$node->safe_psql('postgres', "SELECT cv_publish($it, 'production')");

# The answer of one session alone: every image's probabilities, as text.
my $query = q{SELECT string_agg(m.file || ':' || p.tag || ':' || p.probability, ',' ORDER BY m.file, p.tag)
	FROM manifest m, cv_predict('fruit', pg_read_binary_file(m.file)) p};
my $alone = $node->safe_psql('postgres', $query);
like($alone, qr/apple/, 'one session predicts');

# Two sessions at once: both get the query (three times over) before either
# is read, so their backends predict at the same time.
my @sessions = map { $node->background_psql('postgres') } 1 .. 2;
my $rounds = 3;
for my $s (@sessions)
{
	$s->{stdin} .= "$query;\n" x $rounds . "\\echo ALL_DONE\n";
	$s->{run}->pump_nb;
}
my @answers;
for my $s (@sessions)
{
	$s->{run}->pump until $s->{stdout} =~ /ALL_DONE/ || $s->{timeout}->is_expired;
	my @lines = grep { $_ ne '' && $_ ne 'ALL_DONE' } split /\n/, $s->{stdout};
	push @answers, @lines;
	$s->{stdout} = '';
}
is(scalar(@answers), 2 * $rounds, 'every concurrent query answered');
is(scalar(grep { $_ eq $alone } @answers), scalar(@answers), 'concurrent sessions give the same answers');
$_->quit for @sessions;

# A parallel scan: the same answer.
my $parallel = $node->safe_psql('postgres', qq{
	SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
	SET force_parallel_mode = on;
	$query});
is($parallel, $alone, 'a parallel scan gives the same answers');

$node->stop;
done_testing();
