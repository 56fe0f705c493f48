# pg_dump and pg_restore keep a user's pgvision data: projects, tags,
# images, regions, iterations with their models, imported backbones,
# stored predictions (one waiting for review, one adopted); the
# restored database predicts the same and its ids continue where they were.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $trees = "$shared/datasets/azure-trees-cls";

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', qq{
	CREATE EXTENSION pgvision;
	SELECT cv_import_backbone('mobilenet_v1', pg_read_binary_file('$shared/models/mobilenet_v1_0.25_128_quant.tflite'));
	CREATE TABLE manifest AS
	SELECT '$trees/' || split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
	  FROM regexp_split_to_table(pg_read_file('$trees/manifest.csv'), E'\\r?\\n') AS line
	 WHERE line LIKE 'images/%';
	SELECT cv_create_project('trees');
	SELECT count(cv_add_image('trees', pg_read_binary_file(file), ARRAY[tag])) FROM manifest;
	SELECT cv_publish(cv_train('trees', wait => true), 'production');
	SELECT cv_create_project('cutlery', task => 'detection', domain => 'mobilenet_v1');
	SELECT cv_create_tag('cutlery', 'fork');
	SELECT cv_add_region(cv_add_image('cutlery', pg_read_binary_file('$shared/datasets/azure-forkscissors-od/images/fork_10.jpg')),
	                     'fork', 0.05, 0.28, 0.8, 0.45);
	SELECT count(*) FROM cv_predict('trees', pg_read_binary_file('$shared/datasets/mslearn-fruit-cls/images/apple/IMG_20200229_164759.jpg'), store => true);
	SELECT cv_adopt_prediction((SELECT DISTINCT prediction_id FROM cv_predict('trees',
		pg_read_binary_file('$shared/datasets/mslearn-fruit-cls/images/apple/IMG_20200229_164760.jpg'), store => true)), tags => '{Hemlock}');
});

my $summary = q{SELECT (SELECT count(*) FROM cv_projects) || ' ' || (SELECT count(*) FROM cv_tags) || ' '
	|| (SELECT count(*) FROM cv_images) || ' ' || (SELECT count(*) FROM cv_regions) || ' '
	|| (SELECT count(*) FROM cv_iterations WHERE status = 'completed') || ' ' || (SELECT count(*) FROM cv_backbones)};
my $predict = q{SELECT string_agg(p.tag || ':' || p.probability, ',' ORDER BY m.file, p.tag)
	FROM manifest m, cv_predict('trees', pg_read_binary_file(m.file)) p};
my $stored = q{SELECT string_agg(concat_ws(':', id, iteration_id, top_tag, top_probability, width, height, format,
	encode(sha256, 'hex'), image IS NULL, adopted_image_id, stored_by, results), ',' ORDER BY id) FROM cv_prediction_store};
my $stored_before = $node->safe_psql('src', $stored);
my $before = $node->safe_psql('src', $summary);
my $predicted = $node->safe_psql('src', $predict);
is($before, '2 3 16 1 1 1', 'source database filled');
is($node->safe_psql('src', 'SELECT count(*) || \' \' || count(adopted_at) FROM cv_prediction_store'), '2 1',
	'... with a stored prediction and an adopted one');

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

is($node->safe_psql('dst', $summary), $before, 'every row came back');
is($node->safe_psql('dst', $stored), $stored_before, 'the stored predictions came back as they were, adopted or not');
is($node->safe_psql('dst', $predict), $predicted, 'the restored published model predicts the same');
is($node->safe_psql('dst', q{SELECT label_index FROM cv_backbone_classify('mobilenet_v1', pg_read_binary_file('} . "$shared/images/cat.bmp" . q{'), 1)}),
	'283', 'the restored backbone runs: cat.bmp is a tiger cat');
my $max_id = $node->safe_psql('dst', 'SELECT max(id) FROM cv_images');
cmp_ok($node->safe_psql('dst', qq{SELECT cv_add_image('trees', pg_read_binary_file('$shared/images/cat.bmp'))}),
	'>', $max_id, 'new ids continue after the restored ones');

$node->stop;
done_testing();
