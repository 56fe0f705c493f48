# Two sessions add the same photo at the same time: one row, one id, and the
# second session gets the NOTICE instead of a unique-violation error.  A
# session that adds an image with a rule-breaking tag leaves nothing behind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $photo = "$shared/datasets/mslearn-fruit-cls/images/apple/IMG_20200229_164759.jpg";
ok(-r $photo, 'shared photo is readable');

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;
$node->safe_psql('postgres', q{CREATE EXTENSION pgvision});
$node->safe_psql('postgres', q{SELECT cv_create_project('fruit')});

my $a = $node->background_psql('postgres');
my $b = $node->background_psql('postgres');

$a->query_safe('BEGIN');
my $id_a = $a->query_safe(qq{SELECT cv_add_image('fruit', pg_read_binary_file('$photo'), '{apple}')});

# B blocks on A's uncommitted row in the unique index until A commits.
$b->query_until(qr/started/, qq{
	\\echo started
	SELECT cv_add_image('fruit', pg_read_binary_file('$photo'), '{apple}') AS id_b \\gset
});
$node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock'})
  or die 'second session never waited';
$a->query_safe('COMMIT');
# query() keeps stderr, where the NOTICE of the blocked statement landed.
my $id_b = $b->query(q{SELECT :id_b});
is($id_b, $id_a, 'both sessions got the same image id');
like($b->{stderr}, qr/image already in project "fruit" as image $id_a/, 'second session got the NOTICE');
unlike($b->{stderr}, qr/ERROR/, 'and no error');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cv_images}), '1', 'one row stored');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cv_image_tags}), '1', 'one label stored');

# A failed multi-tag add in a multiclass project writes nothing.
my ($ret, $out, $err) = $node->psql('postgres',
	qq{SELECT cv_add_image('fruit', pg_read_binary_file('$shared/images/cat.bmp'), '{cat,dog}')});
isnt($ret, 0, 'two tags on a multiclass image fail');
like($err, qr/takes one tag/, 'with the rule in the message');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cv_images}), '1', 'no image left behind');
is($node->safe_psql('postgres', q{SELECT string_agg(name, ',' ORDER BY name) FROM cv_tags}), 'apple',
	'no tag left behind');

$a->quit;
$b->quit;
$node->stop;
done_testing();
