# tools/fetch-backbones.sh: a file is kept only when its SHA-256 is the
# published one, then imported with its ImageNet labels; a missing source
# and a damaged file are said clearly and import nothing.  The source is the
# shared models folder (PGV_BACKBONE_SOURCE), so nothing is downloaded.
use strict;
use warnings;
use File::Copy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $script = $ENV{PGVISION_FETCH_BACKBONES} // '../tools/fetch-backbones.sh';
plan skip_all => "no fetch-backbones.sh at $script" unless -r $script;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgvision');

my $cache = PostgreSQL::Test::Utils::tempdir;
my @psql = ('--', '-h', $node->host, '-p', $node->port, '-d', 'postgres');

# run(source, args...): exit status and everything the script printed
sub run
{
	my ($source, @args) = @_;
	local $ENV{PGV_BACKBONE_SOURCE} = $source;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(['bash', $script, '--dir', $cache, @args], '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout . $stderr);
}

my ($rc, $out) = run("$shared/models", '--import', 'mobilenet_v1_025', @psql);
is($rc, 0, 'fetched from the source folder and imported');
like($out, qr/SHA-256 checked/, 'the SHA-256 was checked');
is($node->safe_psql('postgres',
		q{SELECT cardinality(labels) || ' ' || labels[1] FROM cv_backbones WHERE domain = 'mobilenet_v1_025'}),
	'1001 background', 'imported with the 1001 ImageNet labels, line n naming output n');
is($node->safe_psql('postgres',
		qq{SELECT label FROM cv_backbone_classify('mobilenet_v1_025', pg_read_binary_file('$shared/images/cat.bmp'), 1)}),
	'tiger cat', 'the imported network names the cat photo as SOURCE.md says');

($rc, $out) = run("$shared/models", 'mobilenet_v1_025');
is($rc, 0, 'a second run keeps the checked file');
like($out, qr/is there and checks out/, 'and says so');

# No source: a clear message that points to cv_import_backbone.
my $empty = PostgreSQL::Test::Utils::tempdir;
($rc, $out) = run($empty, 'mobilenet_edgetpu');
is($rc, 1, 'a missing file is a failure');
like($out, qr/could not download .*cv_import_backbone/s, 'the message points to cv_import_backbone');

# A damaged file: refused, not kept, nothing imported.
my $bad = PostgreSQL::Test::Utils::tempdir;
copy("$shared/models/mobilenet_edgetpu_224_1.0_uint8.tflite", "$bad/mobilenet_edgetpu_224_1.0_uint8.tflite") or die;
open(my $fh, '>>', "$bad/mobilenet_edgetpu_224_1.0_uint8.tflite") or die;
print $fh "x";
close($fh);
copy("$shared/models/imagenet_labels.txt", "$bad/imagenet_labels.txt") or die;
($rc, $out) = run($bad, '--import', 'mobilenet_edgetpu', @psql);
is($rc, 1, 'a file with another SHA-256 is a failure');
like($out, qr/not the published/, 'and says the SHA-256 differs');
ok(!-e "$cache/mobilenet_edgetpu_224_1.0_uint8.tflite", 'the damaged file is not kept');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cv_domains WHERE name = 'mobilenet_edgetpu'}),
	'0', 'nothing was imported');

($rc, $out) = run("$shared/models", 'no_such_network');
is($rc, 2, 'an unknown network name is a usage error');

$node->stop;
done_testing();
