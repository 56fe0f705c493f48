# pgvision-load, the command-line loader (docs/loading.md), run as a role
# that only has pgvision_user, on folders and annotation files the test
# writes itself from the shared photos: a folder per tag with a truncated
# photo and a stray text file, a multilabel CSV with a missing file, a
# resumed second run that adds only what is missing; COCO, Pascal VOC and
# Custom Vision files with a bad box (no area, outside the image), a
# malformed XML file, an image without boxes, and photos given an EXIF
# orientation here (an APP1 segment spliced in) whose pixel boxes must be
# turned upright; a role without pgvision_user, no server, and the exit
# codes.  Each load is checked in SQL afterwards (images, tags, the stored
# region numbers).
use strict;
use warnings;
use Digest::SHA qw(sha256_hex);
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
$node->safe_psql('postgres', qq{
	SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file('$shared/models/mobilenet_v2_1.0_224_quant.tflite'));
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

# --- detection: COCO, VOC and Custom Vision -------------------------------
# The forks and scissors of azure-forkscissors-od (816 x 612, no EXIF), their
# boxes from the manifest (fractions of the image) turned into pixels.
my %truth;
{
	open(my $fh, '<', "$sets/azure-forkscissors-od/manifest.jsonl") or die $!;
	while (my $line = <$fh>)
	{
		my ($file) = $line =~ /"file": "images\/([^"]+)"/ or next;
		my ($tag, $l, $t, $w, $h) = $line =~
		  /"tag": "(\w+)", "left": ([\d.]+), "top": ([\d.]+), "width": ([\d.]+), "height": ([\d.]+)/
		  or next;
		$truth{$file} = { tag => $tag, x => $l * 816, y => $t * 612, w => $w * 816, h => $h * 612 };
	}
	close($fh);
}
my @good = qw(fork_2.jpg fork_3.jpg fork_5.jpg scissors_2.jpg scissors_5.jpg scissors_6.jpg);
my $od = "$tmp/od";
copy_into($od, map { "$sets/azure-forkscissors-od/images/$_" }
	@good, qw(fork_6.jpg fork_8.jpg scissors_7.jpg));

# An EXIF Orientation in an APP1 segment right after SOI: big-endian TIFF,
# IFD0 with the one entry 0x0112 (SHORT, count 1).
sub with_orientation
{
	my ($jpeg, $orientation) = @_;
	my $tiff = "MM\0\x2a" . pack('N', 8) . pack('n', 1)
	  . pack('nnNnn', 0x0112, 3, 1, $orientation, 0) . pack('N', 0);
	my $app1 = "\xff\xe1" . pack('n', 2 + 6 + length($tiff)) . "Exif\0\0" . $tiff;
	return substr($jpeg, 0, 2) . $app1 . substr($jpeg, 2);
}
# rotated6: fork_10 stored as it is (816 x 612 landscape) with Orientation 6,
# so viewers show it 612 x 816, turned 90 degrees clockwise; its box is on
# the stored raster, as COCO and VOC tools draw it.  rotated8: fork_11 with
# Orientation 8 and an annotation that gives the upright size.
write_file("$od/rotated6.jpg", with_orientation(read_bytes("$sets/azure-forkscissors-od/images/fork_10.jpg"), 6));
write_file("$od/rotated8.jpg", with_orientation(read_bytes("$sets/azure-forkscissors-od/images/fork_11.jpg"), 8));
$truth{'rotated6.jpg'} = $truth{'fork_10.jpg'};
$truth{'rotated8.jpg'} = $truth{'fork_11.jpg'};

# The stored boxes of one image, found by its bytes: "tag l t w h;..."
sub regions_of
{
	my ($project, $file) = @_;
	my $hex = sha256_hex(read_bytes("$od/$file"));
	return sql(qq{SELECT string_agg(format('%s %s %s %s %s', t.name, r."left", r.top, r.width, r.height), ';' ORDER BY r.id)
	                FROM cv_regions r JOIN cv_images i ON i.id = r.image_id JOIN cv_tags t ON t.id = r.tag_id
	                JOIN cv_projects p ON p.id = i.project_id
	               WHERE p.name = '$project' AND encode(i.sha256, 'hex') = '$hex'});
}

# Compare "tag l t w h" with the expected numbers to 1e-9.
sub box_is
{
	my ($got, $tag, $want, $name) = @_;
	my ($gtag, @g) = split / /, ($got // '');
	my $ok = defined($gtag) && $gtag eq $tag && @g == 4;
	for my $i (0 .. 3) { $ok &&= abs($g[$i] - $want->[$i]) < 1e-9; }
	ok($ok, $name) or diag("got '" . ($got // 'nothing') . "', want $tag @$want");
}

# Expected fractions of a stored-raster pixel box on the upright image.
sub plain_box { my $b = shift; return [ $b->{x} / 816, $b->{y} / 612, $b->{w} / 816, $b->{h} / 612 ]; }
# Orientation 6: upright (ox, oy) shows stored (oy, H - 1 - ox), so the
# stored box's top edge becomes the upright right edge: left = 612 - y - h
# of the 612 upright columns, top = x of the 816 upright rows.
sub turned6_box
{
	my $b = shift;
	return [ (612 - $b->{y} - $b->{h}) / 612, $b->{x} / 816, $b->{h} / 612, $b->{w} / 816 ];
}

# COCO: six good images, one without annotations (a negative), a box of no
# area, a box past the right edge, the rotated photo, a file that is not
# there, rotated8 whose declared size is the upright one, and a box on a
# file that is no image (the loader reads a photo's header itself for
# pixel boxes, with the core's probe, and refuses it there).
write_file("$od/garbage.jpg", "\xff\xd8 not a photo\n");
{
	my (@images, @annotations);
	my $id = 0;
	for my $f (@good, 'rotated6.jpg')
	{
		$id++;
		my $b = $truth{$f};
		push @images, qq({"id": $id, "file_name": "$f", "width": 816, "height": 612});
		push @annotations, sprintf(q({"id": %d, "image_id": %d, "category_id": %d, "bbox": [%.9f, %.9f, %.9f, %.9f], "iscrowd": 0}),
			$id, $id, $b->{tag} eq 'fork' ? 1 : 2, $b->{x}, $b->{y}, $b->{w}, $b->{h});
	}
	push @images, q({"id": 20, "file_name": "fork_6.jpg", "width": 816, "height": 612});
	push @images, q({"id": 21, "file_name": "fork_8.jpg", "width": 816, "height": 612});
	push @annotations, q({"id": 21, "image_id": 21, "category_id": 1, "bbox": [100, 100, -30, 50]});
	push @images, q({"id": 22, "file_name": "scissors_7.jpg", "width": 816, "height": 612});
	push @annotations, q({"id": 22, "image_id": 22, "category_id": 2, "bbox": [700, 100, 130, 50]});
	push @images, q({"id": 23, "file_name": "gone.jpg", "width": 816, "height": 612});
	push @images, q({"id": 24, "file_name": "rotated8.jpg", "width": 612, "height": 816});
	push @annotations, q({"id": 24, "image_id": 24, "category_id": 1, "bbox": [10, 20, 300, 400]});
	push @images, q({"id": 25, "file_name": "garbage.jpg", "width": 816, "height": 612});
	push @annotations, q({"id": 25, "image_id": 25, "category_id": 1, "bbox": [10, 20, 300, 400]});
	write_file("$tmp/coco.json", '{"info": {}, "images": [' . join(",\n", @images)
		  . '], "annotations": [' . join(",\n", @annotations)
		  . '], "categories": [{"id": 1, "name": "fork"}, {"id": 2, "name": "scissors"}]}');
}
($rc, $out, $err) = load('--project', 'cutlery', '--create', 'detection', '--domain', 'mobilenet_v2',
	'--coco', "$tmp/coco.json", '--images', $od);
is($rc, 1, 'COCO with bad boxes: exit 1');
like($out, qr/8 added, 0 already there, 5 rejected/, 'COCO: 7 with boxes and a negative added, 5 rejected');
like($out, qr/^rejected: garbage\.jpg: not an image pgvision can read: /m, 'the file that is no image is named');
like($out, qr/^rejected: fork_8\.jpg: box 1 \(fork\) has no area/m, 'the box of negative width is named');
like($out, qr/^rejected: scissors_7\.jpg: box 1 \(scissors\) .* is outside the 816 x 612 px image/m,
	'the box past the edge is named');
like($out, qr/^rejected: gone\.jpg: cannot open/m, 'the missing file is named');
like($out, qr/^rejected: rotated8\.jpg: the annotation gives the size 612 x 816, the stored image is 816 x 612 \(EXIF orientation 8\); use --upright-pixels/m,
	'a size that is the upright one is refused with the flag to use');
is(tag_counts('cutlery', 'region_count'), 'fork=4,scissors=3', 'COCO: the boxes stored per tag');
is(sql(q{SELECT count(*) FROM cv_untagged_images WHERE project = 'cutlery'}), '1', 'the image without annotations is a negative');
box_is(regions_of('cutlery', 'fork_2.jpg'), 'fork', plain_box($truth{'fork_2.jpg'}), 'COCO pixels to fractions');
box_is(regions_of('cutlery', 'scissors_5.jpg'), 'scissors', plain_box($truth{'scissors_5.jpg'}), 'COCO pixels to fractions (scissors)');
is(sql(sprintf(q{SELECT width || 'x' || height || ' ' || cv_orientation(image) FROM cv_images WHERE encode(sha256, 'hex') = '%s'},
		sha256_hex(read_bytes("$od/rotated6.jpg")))), '612x816 6', 'the rotated photo is 612 x 816 upright');
box_is(regions_of('cutlery', 'rotated6.jpg'), 'fork', turned6_box($truth{'rotated6.jpg'}),
	'EXIF orientation 6: the stored-raster box is turned upright');

# Resumed: the same file again adds nothing; the rejected stay rejected.
($rc, $out, $err) = load('--project', 'cutlery', '--coco', "$tmp/coco.json", '--images', $od);
like($out, qr/0 added, 8 already there, 5 rejected/, 'COCO again: nothing added');
is(sql(q{SELECT count(*) FROM cv_regions r JOIN cv_projects p ON p.id = r.project_id WHERE p.name = 'cutlery'}),
	'7', 'no box added twice');

# --upright-pixels: boxes drawn on the upright image are not turned.
($rc, $out, $err) = load('--project', 'cutlery', '--coco', "$tmp/coco.json", '--images', $od, '--upright-pixels');
like($out, qr/1 added, 8 already there, 4 rejected/, '--upright-pixels: rotated8 added');
box_is(regions_of('cutlery', 'rotated8.jpg'), 'fork', [ 10 / 612, 20 / 816, 300 / 612, 400 / 816 ],
	'--upright-pixels: fractions of the upright size, not turned');

# A declared size no image has rejects its image as it is read (it used to
# be converted to int: undefined behaviour, found by test/fuzz's fuzz_coco).
write_file("$tmp/coco-huge.json", '{"images": [{"id": 1, "file_name": "fork_2.jpg", "width": 1e20, "height": 612}], "categories": []}');
($rc, $out, $err) = load('--project', 'cutlery', '--coco', "$tmp/coco-huge.json", '--images', $od);
is($rc, 1, 'COCO with a width beyond an int: exit 1');
like($out, qr/^rejected: fork_2\.jpg: the annotation gives the size 1e\+20 x 612, which is no image's size/m,
	'the impossible size is named');

# Pascal VOC: Annotations/ and JPEGImages/ side by side (the devkit's
# layout), pixels counted from 1; a malformed file and an object without
# a bndbox.
{
	my $voc = "$tmp/VOC";
	make_path("$voc/Annotations");
	copy_into("$voc/JPEGImages", map { "$od/$_" } @good[0 .. 3], 'rotated6.jpg', 'fork_6.jpg');
	for my $f (@good[0 .. 3], 'rotated6.jpg')
	{
		my $b = $truth{$f};
		my ($name) = $f =~ /^(.*)\.jpg$/;
		write_file("$voc/Annotations/$name.xml", sprintf(<<'XML', $f, $b->{tag}, $b->{x} + 1, $b->{y} + 1, $b->{x} + $b->{w}, $b->{y} + $b->{h}));
<annotation>
	<folder>JPEGImages</folder>
	<filename>%s</filename>
	<size><width>816</width><height>612</height><depth>3</depth></size>
	<segmented>0</segmented>
	<object>
		<name>%s</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>
		<bndbox><xmin>%.9f</xmin><ymin>%.9f</ymin><xmax>%.9f</xmax><ymax>%.9f</ymax></bndbox>
	</object>
</annotation>
XML
	}
	write_file("$voc/Annotations/broken.xml", "<annotation><filename>fork_6.jpg</filename><object>\n");
	write_file("$voc/Annotations/nobox.xml",
		"<annotation><filename>fork_6.jpg</filename><object><name>fork</name></object></annotation>\n");
	($rc, $out, $err) = load('--project', 'cutlery-voc', '--create', 'detection', '--domain', 'mobilenet_v2',
		'--voc', "$voc/Annotations");
	is($rc, 1, 'VOC with bad files: exit 1');
	like($out, qr/5 added, 0 already there, 2 rejected/, 'VOC: 5 added, 2 rejected');
	like($out, qr/^rejected: broken\.xml: not well-formed XML \(line \d+/m, 'the malformed XML is named');
	like($out, qr/^rejected: fork_6\.jpg \(nobox\.xml\): object 1 \(fork\) has no <bndbox>/m, 'the object without a box is named');
	box_is(regions_of('cutlery-voc', 'fork_3.jpg'), 'fork', plain_box($truth{'fork_3.jpg'}), 'VOC 1-based pixels to fractions');
	box_is(regions_of('cutlery-voc', 'rotated6.jpg'), 'fork', turned6_box($truth{'rotated6.jpg'}),
		'VOC, EXIF orientation 6: the box is turned upright');

	# A box whose edges round to the same fraction of the image is refused
	# by the loader (it used to reach the server with no width; found by the
	# region check of test/fuzz's loader harnesses).  fork_6 is not in the
	# project yet: the VOC files naming it were rejected.
	write_file("$tmp/coco-speck.json", '{"images": [{"id": 1, "file_name": "fork_6.jpg"}], '
		  . '"annotations": [{"image_id": 1, "category_id": 1, "bbox": [400, 0, 1e-14, 10]}], '
		  . '"categories": [{"id": 1, "name": "fork"}]}');
	($rc, $out, $err) = load('--project', 'cutlery-voc', '--coco', "$tmp/coco-speck.json", '--images', $od);
	like($out, qr/^rejected: fork_6\.jpg: box 1 \(fork\) at left 400, top 0, width 1e-14, height 10 px is too small/m,
		'a box below the rounding of fractions is named');
}

# Custom Vision: the training API's image list, files saved as <id>.jpg;
# regions are already fractions of the upright image.
{
	my $cv = "$tmp/cv";
	my @ids = map { sprintf('00000000-0000-4000-8000-%012d', $_) } 1 .. 4;
	make_path($cv);
	copy("$od/fork_2.jpg", "$cv/$ids[0].jpg") or die;
	copy("$od/scissors_2.jpg", "$cv/$ids[1].jpg") or die;
	copy("$od/fork_3.jpg", "$cv/$ids[2].jpg") or die;
	my $region = sub {
		my ($tag, @v) = @_;
		return sprintf(q({"regionId": "r", "tagName": "%s", "tagId": "t", "created": "2024-01-01T00:00:00Z", "left": %s, "top": %s, "width": %s, "height": %s}),
			$tag, @v);
	};
	my $image = sub {
		my ($id, $tags, @regions) = @_;
		return sprintf(q({"id": "%s", "created": "2024-01-01T00:00:00Z", "width": 816, "height": 612, "originalImageUri": "https://example.invalid/i/%s?sig=x", "tags": [%s], "regions": [%s]}),
			$id, $id, join(',', map { qq({"tagId": "t", "tagName": "$_"}) } @$tags), join(',', @regions));
	};
	write_file("$cv/images.json", '[' . join(",\n",
		$image->($ids[0], ['fork'], $region->('fork', 0.05, 0.28, 0.8, 0.45), $region->('fork', 0.5, 0.5, 0.25, 0.25)),
		$image->($ids[1], ['scissors'], $region->('scissors', 0.1, 0.2, 0.3, 0.4)),
		$image->($ids[2], ['fork'], $region->('fork', 0.9, 0.2, 0.3, 0.4)),
		$image->($ids[3], ['fork'], $region->('fork', 0.1, 0.2, 0.3, 0.4))) . ']');
	($rc, $out, $err) = load('--project', 'cutlery-cv', '--create', 'detection', '--domain', 'mobilenet_v2',
		'--customvision', "$cv/images.json");
	is($rc, 1, 'Custom Vision with a bad region: exit 1');
	like($out, qr/2 added, 0 already there, 2 rejected/, 'Custom Vision: 2 added, 2 rejected');
	like($out, qr/^rejected: $ids[2]: box 1 \(fork\) at left 0\.9, top 0\.2, width 0\.3, height 0\.4 is outside/m,
		'the region past the edge is named');
	like($out, qr/^rejected: $ids[3]: no file for it/m, 'the image without a file is named');
	is(tag_counts('cutlery-cv', 'region_count'), 'fork=2,scissors=1', 'Custom Vision regions stored');
	my $hex = sha256_hex(read_bytes("$cv/$ids[1].jpg"));
	is(sql(qq{SELECT format('%s %s %s %s', r."left", r.top, r.width, r.height) FROM cv_regions r
	            JOIN cv_images i ON i.id = r.image_id WHERE encode(i.sha256, 'hex') = '$hex'
	             AND i.project_id = (SELECT id FROM cv_projects WHERE name = 'cutlery-cv')}),
		'0.1 0.2 0.3 0.4', 'Custom Vision fractions stored as given');

	# the same list into a classification project: its tags
	($rc, $out, $err) = load('--project', 'cutlery-tags', '--create', 'multiclass', '--customvision', "$cv/images.json");
	like($out, qr/3 added, 0 already there, 1 rejected/, 'Custom Vision into a classifier: the tags (regions unchecked)');
	is(tag_counts('cutlery-tags', 'image_count'), 'fork=2,scissors=1', 'Custom Vision tags stored');
}

# A folder is classification input: a detection project refuses it.
($rc, $out, $err) = load('--project', 'cutlery', $trees);
is($rc, 2, 'a folder into a detection project: exit 2');
like($err, qr/detection project/, 'and says why');

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

# Without pgvision_user the project cannot be made: exit 2 with the GRANT.
$node->safe_psql('postgres', 'CREATE ROLE stranger LOGIN');
{
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'pgvision-load', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
		'-U', 'stranger', '--project', 'mine', '--create', 'multiclass', $trees ],
		'<', \undef, '>', \$o, '2>', \$e);
	is($? >> 8, 2, 'a role without pgvision_user: exit 2');
	like($e, qr/cannot open project "mine": permission denied.*GRANT pgvision_user TO stranger/s, 'and the error names the GRANT');
}
is(sql(q{SELECT count(*) FROM cv_projects WHERE name = 'mine'}), '0', 'nothing made');

$node->stop;
($rc, $out, $err) = load('--project', 'trees', $trees);
is($rc, 2, 'no server: exit 2');
like($err, qr/cannot connect/, 'the connection error is shown');

done_testing();
