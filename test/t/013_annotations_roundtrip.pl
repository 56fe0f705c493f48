# cv_export_annotations and pgvision-load round trip: a project's labels
# exported as COCO (boxes in the stored raster's pixels, and in the upright
# image's for --upright-pixels) and as Custom Vision's JSON, the images
# written beside them as <id>.<ext>, loaded into new projects by
# pgvision-load, give back the same images with the same tags and the same
# boxes; one photo has EXIF orientation 6, so its COCO boxes are turned.
# Run as a role that only has pgvision_user.
use strict;
use warnings;
use IPC::Run;
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $testdata = $ENV{PGVISION_TESTDATA} // 'data';
my $tmp = PostgreSQL::Test::Utils::tempdir;

my $node = PostgreSQL::Test::Cluster->new('annotations');
$node->init;
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pgvision;
	CREATE ROLE labeller LOGIN IN ROLE pgvision_user;
	SELECT cv_import_backbone('v1', pg_read_binary_file('$shared/models/mobilenet_v1_0.25_128_quant.tflite'));
	CREATE TABLE photos AS SELECT pg_read_binary_file('$testdata/images/rotated.jpg') AS rotated,
	                              pg_read_binary_file('$testdata/images/tiny.jpg') AS tiny,
	                              pg_read_binary_file('$testdata/images/tiny.png') AS png,
	                              pg_read_binary_file('$shared/images/cat.bmp') AS cat;
	GRANT SELECT ON photos TO labeller;
});

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query, extra_params => [ '-U', 'labeller' ]);
}

sub load
{
	my @cmd = ('pgvision-load', '-h', $node->host, '-p', $node->port,
		'-d', 'postgres', '-U', 'labeller', '--no-progress', @_);
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err);
	return ($? >> 8, $out . $err);
}

sub write_file
{
	my ($path, $bytes) = @_;
	open(my $fh, '>:raw', $path) or die "$path: $!";
	print $fh $bytes;
	close($fh);
}

# Export a project's labels and its images into a new folder.
sub export_project
{
	my ($project, $format, $pixels) = @_;
	my $dir = "$tmp/$project-$format-$pixels";
	mkdir $dir or die "$dir: $!";
	write_file("$dir/labels.json",
		sql("SELECT cv_export_annotations('$project', '$format', '$pixels')"));
	for my $line (split /\n/, sql(qq{
		SELECT cv_export_file_name(i.id, i.format) || ' ' || translate(encode(bytea(i.image), 'base64'), E'\\n', '')
		  FROM cv_images i JOIN cv_projects p ON p.id = i.project_id WHERE p.name = '$project'}))
	{
		my ($name, $b64) = split / /, $line;
		write_file("$dir/$name", decode_base64($b64));
	}
	return $dir;
}

# Every image of a project with its tags and boxes, by content hash: what a
# round trip must keep (the numbers rounded to 1e-9).
sub labels_of
{
	my ($project) = @_;
	return sql(qq{
		SELECT string_agg(line, E'\\n' ORDER BY line) FROM (
		  SELECT encode(i.sha256, 'hex') || ' tags=' ||
		         coalesce((SELECT string_agg(t.name, ',' ORDER BY t.name) FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id
		                    WHERE it.image_id = i.id), '') || ' boxes=' ||
		         coalesce((SELECT string_agg(t.name || format('(%s %s %s %s)', round(r."left"::numeric, 9), round(r.top::numeric, 9),
		                                                      round(r.width::numeric, 9), round(r.height::numeric, 9)), ',' ORDER BY 1)
		                     FROM cv_regions r JOIN cv_tags t ON t.id = r.tag_id WHERE r.image_id = i.id), '') AS line
		    FROM cv_images i JOIN cv_projects p ON p.id = i.project_id WHERE p.name = '$project') s});
}

# A detection project: the rotated photo (orientation 6) with two boxes, a
# plain one with one, a PNG without boxes (a negative example).
sql(q{
	SELECT cv_create_project('boxes', task => 'detection', domain => 'v1');
	SELECT cv_add_image('boxes', rotated, regions => '[{"tag": "cup", "left": 0.1, "top": 0.2, "width": 0.3, "height": 0.5},
	                                                    {"tag": "fork", "left": 0.55, "top": 0.0, "width": 0.45, "height": 0.25}]') FROM photos;
	SELECT cv_add_image('boxes', tiny, regions => '[{"tag": "fork", "left": 0.25, "top": 0.125, "width": 0.5, "height": 0.625}]') FROM photos;
	SELECT cv_add_image('boxes', png) FROM photos;
});
my $boxes = labels_of('boxes');
like($boxes, qr/cup\(0\.1000.*fork\(0\.55/, 'the detection project holds its boxes');

is(sql(q{SELECT (a -> 'images' -> 0 ->> 'width') || 'x' || (a -> 'images' -> 0 ->> 'height')
           FROM cv_export_annotations('boxes') a}),
	'64x48', 'COCO gives the rotated photo its stored raster size (upright 48x64)');

my ($rc, $out);
my $dir = export_project('boxes', 'coco', 'stored');
($rc, $out) = load('--project', 'boxes_coco', '--create', 'detection', '--domain', 'v1',
	'--coco', "$dir/labels.json", '--images', $dir);
is($rc, 0, 'pgvision-load reads the exported COCO file') or diag($out);
is(labels_of('boxes_coco'), $boxes, 'COCO in stored pixels: the same images and boxes back');

$dir = export_project('boxes', 'coco', 'upright');
($rc, $out) = load('--project', 'boxes_upright', '--create', 'detection', '--domain', 'v1',
	'--coco', "$dir/labels.json", '--images', $dir, '--upright-pixels');
is($rc, 0, 'pgvision-load --upright-pixels reads the upright COCO file') or diag($out);
is(labels_of('boxes_upright'), $boxes, 'COCO in upright pixels: the same images and boxes back');

$dir = export_project('boxes', 'customvision', 'stored');
($rc, $out) = load('--project', 'boxes_cv', '--create', 'detection', '--domain', 'v1',
	'--customvision', "$dir/labels.json", '--images', $dir);
is($rc, 0, 'pgvision-load reads the exported Custom Vision file') or diag($out);
is(labels_of('boxes_cv'), $boxes, 'Custom Vision JSON: the same images and boxes back');

# A multilabel classification project, through the Custom Vision JSON.
sql(q{
	SELECT cv_create_project('tags', task => 'multilabel');
	SELECT cv_add_image('tags', cat, tags => '{cat,animal}') FROM photos;
	SELECT cv_add_image('tags', tiny, tags => '{thing}') FROM photos;
	SELECT cv_add_image('tags', png) FROM photos;
});
my $tags = labels_of('tags');
$dir = export_project('tags', 'customvision', 'stored');
($rc, $out) = load('--project', 'tags_cv', '--create', 'multilabel',
	'--customvision', "$dir/labels.json", '--images', $dir);
is($rc, 0, 'pgvision-load reads the classification export') or diag($out);
is(labels_of('tags_cv'), $tags, 'Custom Vision JSON: the same images and tags back');

# The export reads as the role reads: a stranger sees no project.
$node->safe_psql('postgres', 'CREATE ROLE stranger LOGIN IN ROLE pgvision_user');
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT cv_export_annotations('boxes')},
	extra_params => [ '-U', 'stranger' ]);
like($stderr, qr/project "boxes" does not exist/, "another role cannot export the owner's project");

$node->stop;
done_testing();
