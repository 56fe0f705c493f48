# pgvision-load, the command-line loader (docs/loading.md), run as a role
# that only has pgvision_user, on folders and annotation files the test
# writes itself from the shared photos: a folder per tag with a truncated
# photo and a stray text file, a multilabel CSV with a missing file, a
# resumed second run that adds only what is missing, and the exit codes.
# Each load is checked in SQL afterwards (images, tags, regions).
use strict;
use warnings;
use File::Copy;
use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $sets = "$shared/datasets";
my $tmp = PostgreSQL::Test::Utils::tempdir;

my $node = PostgreSQL::Test::Cluster->new('loader');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pgvision;
	CREATE ROLE loader LOGIN IN ROLE pgvision_user;
});

# Run pgvision-load as the loader role: (exit code, stdout, stderr).
sub load
{
	my @cmd = ('pgvision-load', '-h', $node->host, '-p', $node->port,
		'-d', 'postgres', '-U', 'loader', '--no-progress', @_);
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

# 'tag=n,...' of a project from cv_tag_counts (image_count, region_count)
sub tag_counts
{
	my ($project, $what) = @_;
	return sql("SELECT string_agg(tag || '=' || $what, ',' ORDER BY tag) FROM cv_tag_counts WHERE project = '$project'");
}

sub copy_into
{
	my ($dir, @files) = @_;
	make_path($dir);
	copy($_, $dir) or die "copy $_: $!" for @files;
}

sub write_file
{
	my ($path, $bytes) = @_;
	open(my $fh, '>:raw', $path) or die "$path: $!";
	print $fh $bytes;
	close($fh);
}

sub read_bytes
{
	my ($path) = @_;
	open(my $fh, '<:raw', $path) or die "$path: $!";
	local $/;
	my $b = <$fh>;
	close($fh);
	return $b;
}

# --- a folder per tag (multiclass) --------------------------------------
my $trees = "$tmp/trees";
copy_into("$trees/Hemlock", glob("$sets/azure-trees-cls/images/Hemlock/*.jpg"));
copy_into("$trees/Japanese_Cherry", glob("$sets/azure-trees-cls/images/Japanese_Cherry/*.jpg"));
my $photo = read_bytes("$sets/azure-trees-cls/images/Hemlock/hemlock_10.jpg");
write_file("$trees/Hemlock/broken.jpg", substr($photo, 0, length($photo) / 2));
write_file("$trees/Hemlock/notes.txt", "not an image\n");
write_file("$trees/stray.jpg", $photo);

my ($rc, $out, $err) = load('--project', 'trees', $trees);
is($rc, 2, 'a missing project without --create: exit 2');
like($err, qr/project "trees" does not exist.*--create/s, 'the error says how to create it');

($rc, $out, $err) = load('--project', 'trees', '--create', 'multiclass', $trees);
is($rc, 1, 'folder with a bad file: exit 1');
like($out, qr/project "trees": 14 added, 0 already there, 1 rejected, 2 other files ignored/,
	'summary: 14 added, the truncated photo rejected, notes.txt and the stray photo ignored');
like($out, qr{^rejected: Hemlock/broken\.jpg: .*\(22P03\)}m, 'the truncated photo is named with the reason');
is(tag_counts('trees', 'image_count'),
	'Hemlock=7,Japanese_Cherry=7', 'one tag a folder, 7 photos each');
is(sql(q{SELECT owner FROM cv_projects WHERE name = 'trees'}), 'loader', 'the project belongs to the loading role');

# Resumed: one new photo in a new tag folder; only it is sent.
copy_into("$trees/Apple", "$sets/mslearn-fruit-cls/images/apple/" . (sort { $a cmp $b } map { s{.*/}{}r } glob("$sets/mslearn-fruit-cls/images/apple/*.jpg"))[0]);
($rc, $out, $err) = load('--project', 'trees', $trees);
is($rc, 1, 'second run: exit 1 (the bad file is still there)');
like($out, qr/1 added, 14 already there, 1 rejected/, 'second run adds only the new photo');
like($out, qr/\(16 of 16 files in /, 'the summary counts every file');
is(sql(q{SELECT count(*) FROM cv_images i JOIN cv_projects p ON p.id = i.project_id WHERE p.name = 'trees'}),
	'15', '15 images after the second run');

unlink("$trees/Hemlock/broken.jpg");
($rc, $out, $err) = load('--project', 'trees', $trees);
is($rc, 0, 'all files in the project: exit 0');
like($out, qr/0 added, 15 already there, 0 rejected/, 'third run adds nothing');

# --- a multilabel CSV ------------------------------------------------------
my $fruit = "$tmp/fruit";
copy_into("$fruit/pics", map { "$sets/fruit-multilabel/images/$_" }
	qw(apple_1.jpg mixed_1.jpg mixed_11.jpg mixed_14.jpg));
write_file("$fruit/labels.csv", join("\n",
	'file,tags',
	'pics/apple_1.jpg,apple',
	'pics/mixed_1.jpg,apple;banana;orange',
	'"pics/mixed_11.jpg"," banana ; orange"',
	'pics/mixed_14.jpg,apple;banana',
	'pics/missing.jpg,apple',
	'pics/apple_1.jpg,apple,extra') . "\n");
($rc, $out, $err) = load('--project', 'fruit', '--create', 'multilabel', '--csv', "$fruit/labels.csv");
is($rc, 1, 'CSV with a missing file: exit 1');
like($out, qr/4 added, 0 already there, 2 rejected/, 'CSV: 4 added, 2 rejected');
like($out, qr{^rejected: pics/missing\.jpg: cannot open}m, 'the missing file is named');
like($out, qr{^rejected: pics/apple_1\.jpg: .*line 7 has 3 fields}m, 'the bad line is named');
is(tag_counts('fruit', 'image_count'),
	'apple=3,banana=3,orange=2', 'CSV tags: several an image, blanks trimmed');

# A multiclass project refuses several tags on one image: that image alone.
($rc, $out, $err) = load('--project', 'fruit1', '--create', 'multiclass', '--csv', "$fruit/labels.csv");
like($out, qr/1 added, 0 already there, 5 rejected/, 'multiclass CSV: the images with several tags rejected');
like($out, qr{^rejected: pics/mixed_1\.jpg: .*\(22023\)}m, 'with the server\'s reason');

# --- exit codes of bad invocations -----------------------------------------
($rc, $out, $err) = load('--project', 'x');
is($rc, 2, 'no input: exit 2');
($rc, $out, $err) = load('--project', 'x', '--bogus', $trees);
is($rc, 2, 'unknown flag: exit 2');
($rc, $out, $err) = load('--project', 'x', '--create', 'multiclass', "$tmp/nowhere");
is($rc, 2, 'missing folder: exit 2');
like($err, qr/cannot read folder .*nowhere/, 'the missing folder is named');
($rc, $out, $err) = load('--project', 'x', '--create', 'regression', $trees);
is($rc, 2, 'bad task: exit 2');

$node->stop;
done_testing();
