# Shared prepared weights (src/pg/prepared_weights.c, docs/backbones.md):
# the first backend to use a backbone writes its prepared net under the
# data directory; two backends predicting at once after that map the file
# and give the answers the first one gave, which are the answers of a net
# built in private memory; a damaged file is refused and rebuilt; a crash's
# temporary file is cleaned up; a rolled back drop keeps the files and a
# committed one removes them.
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
my $dir = $node->data_dir . '/pgsql_tmp_pgvision';

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
my $hash = $node->safe_psql('postgres',
	"SELECT encode(sha256, 'hex') FROM cv_backbones WHERE domain = 'mobilenet_v1'");

# Files of this backbone under the directory: final ones, and temporary ones.
sub files
{
	my ($pattern) = @_;
	opendir(my $dh, $dir) or return ();
	my @f = sort grep { /^$hash-.*$pattern$/ } readdir($dh);
	closedir($dh);
	return @f;
}

my $it = $node->safe_psql('postgres', q{SELECT cv_train('fruit')});
ok($node->poll_query_until('postgres', "SELECT status FROM cv_iterations WHERE id = $it", 'completed'),
	'a backbone project trains in a background worker');
$node->safe_psql('postgres', "SELECT cv_publish($it, 'production')");
ok(scalar(files('\.pgvnet')) >= 1, 'the training worker shared the prepared weights it built');

my $query = q{SELECT string_agg(m.file || ':' || p.tag || ':' || p.probability, ',' ORDER BY m.file, p.tag)
	FROM manifest m, cv_predict('fruit', pg_read_binary_file(m.file)) p};

# The reference: a net built in this backend's own memory, no file used.
my $private = $node->safe_psql('postgres', "SET pgvision.prepared_weights = off; $query");
like($private, qr/apple/, 'a backend without shared weights predicts');

# The first backend after the files are gone builds and writes them.
unlink map { "$dir/$_" } files('\.pgvnet');
is(scalar(files('\.pgvnet')), 0, 'no prepared file before the first prediction');
my $first = $node->safe_psql('postgres', $query);
my @made = files('\.pgvnet');
is(scalar(@made), 1, 'the first prediction wrote one prepared file');
is($first, $private, 'the backend that wrote the file answers as the private net does');
my $made_mtime = (stat("$dir/$made[0]"))[9];

# Two sessions at once after that: they map the file (seen in their
# /proc/PID/maps) and give the same answers.
my @sessions = map { $node->background_psql('postgres') } 1 .. 2;
my $rounds = 3;
for my $s (@sessions)
{
	$s->{stdin} .= "SELECT 'PID=' || pg_backend_pid();\n" . "$query;\n" x $rounds . "\\echo ALL_DONE\n";
	$s->{run}->pump_nb;
}
my (@answers, @pids);
for my $s (@sessions)
{
	$s->{run}->pump until $s->{stdout} =~ /ALL_DONE/ || $s->{timeout}->is_expired;
	my @lines = grep { $_ ne '' && $_ ne 'ALL_DONE' } split /\n/, $s->{stdout};
	push @pids, map { /^PID=(\d+)$/ ? $1 : () } @lines;
	push @answers, grep { !/^PID=/ } @lines;
	$s->{stdout} = '';
}
is(scalar(@answers), 2 * $rounds, 'every concurrent query answered');
is(scalar(grep { $_ eq $first } @answers), scalar(@answers),
	'two backends predicting at once from the shared file give identical answers');
is(scalar(@pids), 2, 'both sessions told their backend');
for my $pid (@pids)
{
	my $maps = slurp_file("/proc/$pid/maps");
	like($maps, qr/\Q$made[0]\E/, "backend $pid runs from the mapped file");
}
$_->quit for @sessions;
is((stat("$dir/$made[0]"))[9], $made_mtime, 'readers did not rewrite the file');

# A parallel scan: workers map it too, same answers.
my $parallel = $node->safe_psql('postgres', qq{
	SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
	SET force_parallel_mode = on;
	$query});
is($parallel, $first, 'a parallel scan gives the same answers');

# A damaged file (truncated, then one byte changed) is refused and rebuilt.
my $path = "$dir/$made[0]";
my $size = -s $path;
truncate($path, int($size / 2)) or die "truncate: $!";
is($node->safe_psql('postgres', $query), $first, 'a truncated file is refused: same answers');
is(-s $path, $size, 'and rebuilt whole');
open(my $fh, '+<', $path) or die "open: $!";
binmode $fh;
seek($fh, int($size / 3), 0);
my $byte;
read($fh, $byte, 1);
seek($fh, int($size / 3), 0);
print $fh chr(ord($byte) ^ 0x55);
close($fh);
is($node->safe_psql('postgres', $query), $first, 'a file with a changed byte is refused: same answers');
{
	open(my $check, '<', $path) or die "open: $!";
	binmode $check;
	seek($check, int($size / 3), 0);
	my $now;
	read($check, $now, 1);
	close($check);
	is($now, $byte, 'and rebuilt');
}

# A temporary file left by a crashed backend (a pid that does not run) goes
# when a backend next writes a file.
my $orphan = "$dir/$made[0].tmp.999999999";
open(my $oh, '>', $orphan) or die "create: $!";
print $oh "half a file";
close($oh);
unlink $path;
is($node->safe_psql('postgres', $query), $first, 'predicts while the file is rewritten');
ok(!-e $orphan, 'the crashed backend\'s temporary file was removed');
ok(-e $path, 'the file was written again');

# Dropping the backbone: nothing removed before commit, nor by a rollback.
my $drop = q{SELECT cv_delete_project('fruit'); SELECT cv_drop_backbone('mobilenet_v1');};
$node->safe_psql('postgres', "BEGIN; $drop ROLLBACK;");
ok(scalar(files('\.pgvnet')) >= 1, 'a rolled back drop keeps the prepared files');
$node->safe_psql('postgres', "BEGIN; $drop SAVEPOINT s; SELECT 1; ROLLBACK TO s; COMMIT;");
is(scalar(files('')), 0, 'a committed drop removes every prepared file of the backbone');

$node->stop;
done_testing();
