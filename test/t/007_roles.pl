# Roles and row security (docs/security.md): login roles that were granted
# pgvision_user create projects and use them; a project belongs to its
# creator.  Three roles around the owner's projects, each rule both ways:
# the stranger sees no row of them in any table or view and gets "does not
# exist" (42704) from every function, as for a project that is not there;
# the reader (a read share) sees every row, predicts, detects and reads
# performance, and gets 42501 for every change; the writer (a write share)
# adds images and trains, and the training runs in the worker as the owner
# (with the owner's privileges revoked it fails); a member of the owner role
# sees and changes everything, a superuser sees every row; a role without
# pgvision_user is told to get it; importing a backbone needs
# pgvision_admin; reading server files stays superuser-only.  Stored
# predictions (docs/predictions.md) follow the same rules: the stranger
# neither sees nor stores nor adopts one, the reader sees them and predicts
# without storing but may not store or adopt, the writer does both.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $shared = $ENV{PGVISION_SHARED} // '../../shared';
my $trees = "$shared/datasets/azure-trees-cls";
my $raccoons = "$shared/datasets/raccoon-od";

my $node = PostgreSQL::Test::Cluster->new('roles');
$node->init;
$node->append_conf('postgresql.conf', "max_worker_processes = 16\n");
$node->start;

# Run SQL as a login role; die on error.
sub as
{
	my ($role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

# The SQLSTATE of the error SQL raises as a role ('' when it succeeds), and
# the message.
sub fails
{
	my ($role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		extra_params => [ '-U', $role ]);
	return ('', '') if $ret == 0;
	return ($1, $2) if $err =~ /ERROR:\s+([0-9A-Z]{5}):\s+(.*)/;
	return ('?', $err);
}

sub sqlstate_is
{
	my ($role, $sql, $want, $name) = @_;
	my ($state, $message) = fails($role, $sql);
	is($state, $want, $name) or diag("$sql: $message");
	return $message;
}

# The SQLSTATE (and message) of each statement, run as a role in one
# session: { name => statement } in, { name => 'SQLSTATE message' } out, ''
# for a statement that succeeded.
sub states
{
	my ($role, %stmts) = @_;
	my $values = join(",\n", map { "(\$w\$$_\$w\$, \$s\$$stmts{$_}\$s\$)" } sort keys %stmts);
	my %got;
	for my $line (split /\n/, as($role, "SELECT w || '=' || sqlstate_of(s) FROM (VALUES $values) v(w, s)"))
	{
		my ($w, $state) = split /=/, $line, 2;
		$got{$w} = $state;
	}
	return %got;
}

sub all_fail_with
{
	my ($role, $want, $who, %stmts) = @_;
	my %got = states($role, %stmts);
	for my $what (sort keys %stmts)
	{
		is(substr($got{$what} // '', 0, 5), $want, "$who: $what gives $want") or diag($got{$what});
	}
}

# count(*) of each relation, as a role, in one query.
sub counts
{
	my ($role, @rels) = @_;
	my @n = split /,/, as($role, 'SELECT ' . join(" || ',' || ", map { "(SELECT count(*) FROM $_)" } @rels));
	my %n;
	@n{@rels} = @n;
	return %n;
}

sub wait_ended
{
	my ($role, $id) = @_;
	for (my $i = 0; $i < 2400; $i++)
	{
		my $s = as($role, "SELECT status FROM cv_iterations WHERE id = $id");
		return $s if $s ne 'queued' && $s ne 'training';
		usleep(50_000);
	}
	return 'timeout';
}

# Setup as the superuser: the roles, the extension, and the photos in a
# table everyone can read (pg_read_binary_file is the superuser's).
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pgvision;
	CREATE ROLE owner LOGIN;
	CREATE ROLE reader LOGIN;
	CREATE ROLE writer LOGIN;
	CREATE ROLE stranger LOGIN;
	CREATE ROLE member LOGIN;
	CREATE ROLE nobody LOGIN;
	CREATE ROLE admin LOGIN;
	GRANT pgvision_user TO owner, reader, writer, stranger, member;
	GRANT pgvision_admin TO admin;
	GRANT owner TO member;
	CREATE TABLE photos AS
	SELECT row_number() OVER (ORDER BY l[1]) AS n, l[1] AS file, l[2] AS tag,
	       pg_read_binary_file('$trees/' || l[1]) AS bytes
	  FROM regexp_split_to_table(pg_read_file('$trees/manifest.csv'), E'\\r?\\n') AS line,
	       LATERAL (SELECT string_to_array(line, ',')) s(l)
	 WHERE line <> '' AND line NOT LIKE 'file,%';
	CREATE TABLE boxes AS
	SELECT row_number() OVER (ORDER BY l->>'file') AS n, l->'regions' AS regions,
	       pg_read_binary_file('$raccoons/' || (l->>'file')) AS bytes
	  FROM regexp_split_to_table(pg_read_file('$raccoons/manifest.jsonl'), E'\\r?\\n') AS line,
	       LATERAL (SELECT line::jsonb) j(l)
	 WHERE line <> '' AND l->>'file' NOT IN ('images/raccoon-116.jpg', 'images/raccoon-83.jpg',
	                                         'images/raccoon-74.jpg', 'images/raccoon-98.jpg');
	DELETE FROM boxes WHERE n > 16;
	CREATE TABLE network AS SELECT pg_read_binary_file('$shared/models/mobilenet_v2_1.0_224_quant.tflite') AS bytes;
	GRANT SELECT ON photos, boxes TO PUBLIC;
	GRANT SELECT ON network TO admin, owner;
	CREATE FUNCTION sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS \$\$
	BEGIN
		EXECUTE statement;
		RETURN '';
	EXCEPTION WHEN OTHERS THEN
		RETURN SQLSTATE || ' ' || SQLERRM;
	END;
	\$\$;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM photos'), '14', '14 tree photos staged');

# 1. Privileges outside projects.
my $msg = sqlstate_is('nobody', q{SELECT cv_create_project('p')}, '42501',
	'a role without pgvision_user cannot create a project');
like($msg, qr/permission denied to create a pgvision project/, '... and is told what it lacks');
sqlstate_is('nobody', 'SELECT count(*) FROM cv_images', '42501', '... nor read cv_images');
sqlstate_is('owner', q{SELECT cv_import_backbone('mobilenet_v2', (SELECT bytes FROM network))}, '42501',
	'pgvision_user alone cannot import a backbone');
is(as('admin', q{SELECT cv_import_backbone('mobilenet_v2', (SELECT bytes FROM network))}), 'mobilenet_v2',
	'a pgvision_admin member imports one');
sqlstate_is('owner', q{SELECT pg_read_binary_file('/etc/hostname')}, '42501',
	'reading server files stays superuser-only');
is(as('owner', q{SELECT string_agg(name, ',' ORDER BY name) FROM cv_domains}), 'compact,mobilenet_v2',
	'every pgvision user reads the domains');

# 2. The owner's projects: a detector trained in a worker while the rest
# of the test runs, and a classifier trained in a worker; both published.
is(as('owner', q{
	SELECT cv_create_project('trees');
	SELECT count(cv_add_image('trees', bytes, ARRAY[tag])) FROM photos;
	SELECT cv_create_project('raccoons', task => 'detection', domain => 'mobilenet_v2');
	SELECT count(cv_add_image('raccoons', bytes, regions => regions)) FROM boxes;
}), "1\n14\n2\n16", 'the owner creates two projects and adds their photos');
is(as('owner', 'SELECT string_agg(DISTINCT owner::text, \',\') FROM cv_projects'), 'owner', 'the projects belong to their creator');
my $det = as('owner', q{SELECT cv_train('raccoons')});
my $it = as('owner', q{SELECT cv_train('trees')});
is(wait_ended('owner', $it), 'completed', "the owner's training in a worker completed");
like(slurp_file($node->logfile), qr/training iteration $it as role "owner"/, '... as role owner');
as('owner', qq{SELECT cv_publish($it, 'prod')});

my $trees_id = $node->safe_psql('postgres', q{SELECT id FROM cv_projects WHERE name = 'trees'});
my $img = as('owner', qq{SELECT min(id) FROM cv_images WHERE project_id = $trees_id});
my $box_img = as('owner', q{SELECT min(image_id) FROM cv_regions});
my $region = as('owner', q{SELECT min(id) FROM cv_regions});
my $photo = q{(SELECT bytes FROM photos WHERE n = 1)};
my $predicted = as('owner', qq{SELECT string_agg(tag || ':' || round(probability::numeric, 4), ',') FROM cv_predict('trees', $photo)});
# A stored prediction of a photo the project does not have, waiting for
# review until the end.
my $pred = as('owner', q{SELECT DISTINCT prediction_id FROM cv_predict('trees', (SELECT bytes FROM boxes WHERE n = 5), store => true)});
like($pred, qr/^\d+$/, 'the owner stores a prediction');

as('owner', q{
	SELECT cv_share_project('trees', 'reader');
	SELECT cv_share_project('raccoons', 'reader', access => 'read');
	SELECT cv_share_project('trees', 'writer', access => 'write');
	SELECT cv_share_project('raccoons', 'writer', access => 'read');
});

# 3. The stranger: every function says the project, iteration, image or
# region does not exist, exactly as for one that is not there.
all_fail_with('stranger', '42704', 'the stranger',
	"cv_predict by project"         => qq{SELECT * FROM cv_predict('trees', $photo)},
	"cv_predict by published name"  => qq{SELECT * FROM cv_predict('trees', $photo, 'prod')},
	"cv_detect by project"          => qq{SELECT * FROM cv_detect('raccoons', $photo)},
	"cv_detect by published name"   => qq{SELECT * FROM cv_detect('raccoons', $photo, 'prod')},
	"cv_performance"                => "SELECT * FROM cv_performance($it)",
	"cv_performance of a detector"  => "SELECT * FROM cv_performance($det)",
	"cv_publish"                    => "SELECT cv_publish($it, 'mine')",
	"cv_unpublish"                  => "SELECT cv_unpublish($it)",
	"cv_unpublish by name"          => q{SELECT cv_unpublish('trees', 'prod')},
	"cv_cancel_training"            => "SELECT cv_cancel_training($det)",
	"cv_add_image"                  => qq{SELECT cv_add_image('trees', $photo, '{Hemlock}')},
	"cv_train"                      => q{SELECT cv_train('trees')},
	"cv_train, waiting"             => q{SELECT cv_train('trees', wait => true)},
	"cv_create_tag"                 => q{SELECT cv_create_tag('trees', 'oak')},
	"cv_delete_tag"                 => q{SELECT cv_delete_tag('trees', 'Hemlock')},
	"cv_delete_project"             => q{SELECT cv_delete_project('trees')},
	"cv_share_project"              => q{SELECT cv_share_project('trees', 'stranger')},
	"cv_unshare_project"            => q{SELECT cv_unshare_project('trees', 'reader')},
	"cv_tag_image"                  => "SELECT cv_tag_image($img, '{Hemlock}')",
	"cv_untag_image"                => "SELECT cv_untag_image($img, '{Hemlock}')",
	"cv_delete_image"               => "SELECT cv_delete_image($img)",
	"cv_add_region"                 => "SELECT cv_add_region($box_img, 'raccoon', 0.1, 0.1, 0.2, 0.2)",
	"cv_delete_region"              => "SELECT cv_delete_region($region)",
	"cv_predict, storing"           => qq{SELECT * FROM cv_predict('trees', $photo, store => true)},
	"cv_predict, store NULL"        => qq{SELECT * FROM cv_predict('trees', $photo, store => NULL)},
	"cv_detect, storing"            => qq{SELECT * FROM cv_detect('raccoons', $photo, store => true)},
	"cv_adopt_prediction"           => "SELECT cv_adopt_prediction($pred, tags => '{Hemlock}')",
	"cv_delete_prediction"          => "SELECT cv_delete_prediction($pred)");
my ($missing) = (fails('stranger', q{SELECT * FROM cv_predict('no such project', '\x00')}))[1];
my ($hidden) = (fails('stranger', q{SELECT * FROM cv_predict('trees', '\x00')}))[1];
$missing =~ s/no such project/trees/;
is($hidden, $missing, "another role's project reads exactly as a missing one");
# Direct SQL changes nothing either.
is(as('stranger', q{
	UPDATE cv_projects SET name = 'mine';
	DELETE FROM cv_images;
	UPDATE cv_iteration_store SET published_name = NULL;
	DELETE FROM cv_regions;
	DELETE FROM cv_features;
	DELETE FROM cv_prediction_store;
	SELECT 'done';
}), 'done', 'UPDATE and DELETE by the stranger find no rows');
all_fail_with('stranger', '42501', 'the stranger',
	"INSERT INTO cv_images"  => "INSERT INTO cv_images (project_id, image) SELECT $trees_id, bytes FROM boxes WHERE n = 3",
	"INSERT INTO cv_tags"    => "INSERT INTO cv_tags (project_id, name) VALUES ($trees_id, 'oak')",
	"INSERT INTO cv_image_tags" => "INSERT INTO cv_image_tags (image_id, tag_id, project_id) SELECT $img, min(id), $trees_id FROM cv_tags",
	"INSERT INTO cv_iteration_store" => "INSERT INTO cv_iteration_store (project_id, task, domain) VALUES ($trees_id, 'multiclass', 'compact')",
	"INSERT INTO cv_projects in the owner's name" => q{INSERT INTO cv_projects (name, owner) VALUES ('planted', 'owner')},
	"INSERT INTO cv_project_shares" => "INSERT INTO cv_project_shares (project_id, owner, grantee, access) VALUES ($trees_id, 'owner', 'stranger', 'write')",
	"TRUNCATE"               => 'TRUNCATE cv_images',
	"INSERT INTO cv_prediction_store" => "INSERT INTO cv_prediction_store (project_id, threshold, results, image) SELECT $trees_id, 0.5, '[]', bytes FROM boxes WHERE n = 3",
	"cv_import_backbone"     => q{SELECT cv_import_backbone('x', '\x00')});
# Its own project of the same name is its own business.
is(as('stranger', q{SELECT cv_create_project('trees') > 0}), 't', 'the stranger may name a project of its own trees');
sqlstate_is('stranger', qq{SELECT * FROM cv_predict('trees', $photo)}, '55000',
	"... and cv_predict('trees') then means the stranger's own, unpublished project");
as('stranger', q{SELECT cv_delete_project('trees')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM cv_projects WHERE name = 'trees'}), '1',
	"the owner's project is untouched");

# 4. The reader: reads and predicts; every change is 42501.
is(as('reader', qq{SELECT string_agg(tag || ':' || round(probability::numeric, 4), ',') FROM cv_predict('trees', $photo)}),
	$predicted, 'the reader predicts by project name, as the owner does');
is(as('reader', qq{SELECT count(*) FROM cv_predict('trees', $photo, 'prod')}), '2', '... and by published name');
is(as('reader', "SELECT count(*) FROM cv_performance($it)"), '3', 'the reader reads cv_performance');
is(as('reader', "SELECT count(*) FROM cv_predictions WHERE id = $pred"), '1', 'the reader sees the stored prediction');
is(as('reader', qq{SELECT count(*) || ',' || count(prediction_id) FROM cv_predict('trees', $photo, store => false)}), '2,0',
	'... and predicts without storing');
all_fail_with('reader', '42501', 'the reader',
	"cv_add_image"      => qq{SELECT cv_add_image('trees', (SELECT bytes FROM boxes WHERE n = 1), '{Hemlock}')},
	"cv_train"          => q{SELECT cv_train('trees')},
	"cv_train, waiting" => q{SELECT cv_train('trees', wait => true)},
	"cv_publish"        => "SELECT cv_publish($it, 'mine')",
	"cv_unpublish"      => "SELECT cv_unpublish($it)",
	"cv_unpublish by name" => q{SELECT cv_unpublish('trees', 'prod')},
	"cv_cancel_training" => "SELECT cv_cancel_training($det)",
	"cv_create_tag"     => q{SELECT cv_create_tag('trees', 'oak')},
	"cv_delete_tag"     => q{SELECT cv_delete_tag('trees', 'Hemlock')},
	"cv_tag_image"      => "SELECT cv_tag_image($img, '{Hemlock}')",
	"cv_untag_image"    => "SELECT cv_untag_image($img, '{Hemlock}')",
	"cv_retag_image"    => "SELECT cv_retag_image($img, '{Hemlock}')",
	"cv_delete_image"   => "SELECT cv_delete_image($img)",
	"cv_add_region"     => "SELECT cv_add_region($box_img, 'raccoon', 0.1, 0.1, 0.2, 0.2)",
	"cv_delete_region"  => "SELECT cv_delete_region($region)",
	"cv_delete_project" => q{SELECT cv_delete_project('trees')},
	"cv_share_project"  => q{SELECT cv_share_project('trees', 'stranger')},
	"cv_unshare_project" => q{SELECT cv_unshare_project('trees', 'writer')},
	"cv_import_backbone" => q{SELECT cv_import_backbone('x', '\x00')},
	"cv_predict, storing" => qq{SELECT * FROM cv_predict('trees', $photo, store => true)},
	"cv_predict, storing by published name" => qq{SELECT * FROM cv_predict('trees', $photo, store => true, published_name => 'prod')},
	"cv_detect, storing" => qq{SELECT * FROM cv_detect('raccoons', $photo, store => true)},
	"cv_adopt_prediction" => "SELECT cv_adopt_prediction($pred)",
	"cv_delete_prediction" => "SELECT cv_delete_prediction($pred)",
	"INSERT INTO cv_prediction_store" => "INSERT INTO cv_prediction_store (project_id, threshold, results, image) SELECT $trees_id, 0.5, '[]', bytes FROM boxes WHERE n = 3",
	"INSERT INTO cv_tags" => "INSERT INTO cv_tags (project_id, name) VALUES ($trees_id, 'oak')",
	"INSERT INTO cv_regions" => "INSERT INTO cv_regions (image_id, tag_id, project_id, \"left\", top, width, height) SELECT image_id, tag_id, project_id, 0.1, 0.1, 0.1, 0.1 FROM cv_regions WHERE id = $region");
like((fails('reader', q{SELECT cv_train('trees')}))[1], qr/permission denied for project "trees"/,
	'... naming the project');
like((fails('reader', qq{SELECT * FROM cv_predict('trees', $photo, store => true)}))[1], qr/permission denied for project "trees"/,
	'storing a prediction names the project');
# The owner makes the project store by default: store => NULL stores for
# the owner and is refused to the reader; the plain forms store nothing.
as('owner', q{UPDATE cv_projects SET store_predictions = true WHERE name = 'trees'});
sqlstate_is('reader', qq{SELECT * FROM cv_predict('trees', $photo, store => NULL)}, '42501',
	'the project stores by default: the reader\'s store => NULL is refused');
is(as('reader', qq{SELECT count(*) FROM cv_predict('trees', $photo)}), '2', '... and its plain cv_predict still predicts');
is(as('owner', q{UPDATE cv_projects SET store_predictions = false WHERE name = 'trees' RETURNING store_predictions}), 'f',
	'the owner turns storing off again');
is(as('reader', q{
	UPDATE cv_images SET created_at = now();
	DELETE FROM cv_regions;
	DELETE FROM cv_features;
	UPDATE cv_iteration_store SET published_name = NULL;
	DELETE FROM cv_prediction_store;
	UPDATE cv_projects SET store_predictions = true;
	SELECT count(*) FROM cv_regions;
}), $node->safe_psql('postgres', 'SELECT count(*) FROM cv_regions'), 'UPDATE and DELETE by the reader change no row');
is($node->safe_psql('postgres', qq{SELECT count(*) || ',' || bool_or(p.store_predictions) FROM cv_prediction_store s JOIN cv_projects p ON p.id = s.project_id WHERE s.id = $pred}),
	'1,false', '... the stored prediction and the project setting are untouched');
is(as('reader', qq{SELECT published_name FROM cv_iterations WHERE id = $it}), 'prod', '... the iteration is still published');

# 5. The writer: adds images and trains; the worker trains as the owner.
is(as('writer', q{SELECT cv_add_image('trees', (SELECT bytes FROM boxes WHERE n = 2), '{Hemlock}') > 0}), 't',
	'the writer adds an image');
my $it2 = as('writer', q{SELECT cv_train('trees')});
is(wait_ended('writer', $it2), 'completed', "the writer's training completed in a worker");
like(slurp_file($node->logfile), qr/training iteration $it2 as role "owner"/, '... as the owner of the project');
is(as('writer', qq{SELECT image_count FROM cv_iterations WHERE id = $it2}), '15', '... on the 15 images');
is(as('writer', qq{SELECT cv_publish($it2, 'staging'); SELECT count(*) FROM cv_performance($it2)}), "\n3",
	'the writer publishes and reads performance');
all_fail_with('writer', '42501', 'the writer',
	"cv_delete_project" => q{SELECT cv_delete_project('trees')},
	"cv_share_project"  => q{SELECT cv_share_project('trees', 'stranger')},
	"cv_add_image on a project shared for reading" => q{SELECT cv_add_image('raccoons', (SELECT bytes FROM photos WHERE n = 2))});
is(as('writer', q{UPDATE cv_projects SET name = 'renamed'; DELETE FROM cv_projects; SELECT string_agg(name, ',' ORDER BY name) FROM cv_projects}),
	'raccoons,trees', 'UPDATE and DELETE of the project rows by the writer find no rows');
# The writer stores a prediction and adopts it; it cannot store on the
# project shared with it for reading.
my $wpred = as('writer', q{SELECT DISTINCT prediction_id FROM cv_predict('trees', (SELECT bytes FROM boxes WHERE n = 4), store => true)});
like($wpred, qr/^\d+$/, 'the writer stores a prediction');
is(as('writer', qq{SELECT stored_by FROM cv_prediction_store WHERE id = $wpred}), 'writer', '... stored by the writer');
my $wimg = as('writer', qq{SELECT cv_adopt_prediction($wpred, tags => '{Japanese_Cherry}')});
is(as('writer', qq{SELECT t.name FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = $wimg}),
	'Japanese_Cherry', '... and adopts it with the tag it gives');
is(as('owner', qq{SELECT adopted_by || ',' || (image IS NULL) FROM cv_prediction_store WHERE id = $wpred}), 'writer,true',
	'the owner sees it adopted by the writer');
sqlstate_is('writer', qq{SELECT cv_adopt_prediction($wpred)}, '55000', 'adopting it twice is refused');
sqlstate_is('writer', qq{SELECT * FROM cv_detect('raccoons', $photo, store => true)}, '42501',
	'the writer cannot store on a project shared for reading');

# 6. The detector: the reader detects by project name and reads its
# performance.
is(wait_ended('owner', $det), 'completed', "the owner's detection training completed in a worker");
as('owner', qq{SELECT cv_publish($det, 'prod')});
is(as('reader', q{SELECT count(*) >= 0 FROM cv_detect('raccoons', (SELECT bytes FROM boxes WHERE n = 1))}), 't',
	'the reader detects by project name');
is(as('reader', q{SELECT count(*) >= 0 FROM cv_detect('raccoons', (SELECT bytes FROM boxes WHERE n = 1), 'prod')}), 't',
	'... and by published name');
is(as('reader', "SELECT count(*) FROM cv_performance($det)"), '2', "... and reads the detector's performance");
# cv_export (issue 9, merged separately) obeys the same read rule.
SKIP:
{
	skip 'cv_export is not in this tree', 2
	  unless $node->safe_psql('postgres', q{SELECT count(*) FROM pg_proc WHERE proname = 'cv_export'}) > 0;
	sqlstate_is('stranger', "SELECT cv_export($det, 'onnx') IS NOT NULL", '42704', 'the stranger cannot export the iteration');
	sqlstate_is('reader', "SELECT cv_export($det, 'onnx') IS NOT NULL", '', 'the reader exports it');
}

# The owner's rights, not the writer's: without pgvision_user, the owner's
# training fails although the writer queued it (the detector is done: it
# would fail too).
$node->safe_psql('postgres', 'REVOKE pgvision_user FROM owner');
my $it3 = as('writer', q{SELECT cv_train('trees')});
is(wait_ended('writer', $it3), 'failed', "with the owner's privileges revoked, the writer's training fails");
like(as('writer', "SELECT message FROM cv_iterations WHERE id = $it3"), qr/permission denied/,
	'... with permission denied: the worker has the rights of the owner');
$node->safe_psql('postgres', 'GRANT pgvision_user TO owner');

# 7. Every table and view: the superuser's count, the reader's, a member's
# of the owner role, the stranger's.  Only the owner has projects now, all
# shared with the reader.
my @relations = qw(cv_projects cv_tags cv_images cv_image_tags cv_regions cv_iteration_store
  cv_iterations cv_iteration_tags cv_heldout_predictions cv_heldout_regions cv_features
  cv_tag_counts cv_untagged_images cv_prediction_store cv_predictions);
my %all = counts('postgres', @relations);
my %reader = counts('reader', @relations);
my %member = counts('member', @relations);
my %stranger = counts('stranger', @relations);
for my $rel (@relations)
{
	cmp_ok($all{$rel}, '>', 0, "$rel has rows") unless $rel eq 'cv_untagged_images';
	is($reader{$rel}, $all{$rel}, "the reader sees every row of $rel");
	is($member{$rel}, $all{$rel}, "a member of the owner role sees every row of $rel");
	is($stranger{$rel}, '0', "the stranger sees no row of $rel");
}
is(as('stranger', 'SELECT count(*) FROM cv_project_shares'), '0', 'the stranger sees no share');
is(as('reader', 'SELECT count(*) FROM cv_project_shares'), '2', 'the reader sees its own shares only');
is(as('owner', 'SELECT count(*) FROM cv_project_shares'), '4', 'the owner sees every share of its projects');

# 8. A member of the owner role changes the project too; a superuser sees
# every project; the admin's drop stops at a project it cannot see.
is(as('member', q{SELECT cv_create_tag('trees', 'oak') > 0}), 't', 'a member of the owner role changes the project');
as('stranger', q{SELECT cv_create_project('elsewhere')});
is($node->safe_psql('postgres', q{SELECT string_agg(name || '/' || owner, ',' ORDER BY name) FROM cv_projects}),
	'elsewhere/stranger,raccoons/owner,trees/owner', 'the superuser sees every project');
is(as('owner', q{SELECT count(*) FROM cv_projects}), '2', "the owner sees its own two only");
my $in_use = sqlstate_is('admin', q{SELECT cv_drop_backbone('mobilenet_v2')}, '2BP01',
	'the admin cannot drop a backbone that a project it cannot see uses');
unlike($in_use, qr/raccoons/, '... and is not told the project\'s name');

# 9. Unsharing: the reader loses the project, and it reads as missing.
as('owner', q{SELECT cv_unshare_project('trees', 'reader')});
sqlstate_is('reader', qq{SELECT * FROM cv_predict('trees', $photo)}, '42704', 'unshared: the reader no longer finds it');
is(as('reader', qq{SELECT count(*) FROM cv_images WHERE project_id = $trees_id}), '0', '... nor its images');
sqlstate_is('owner', q{SELECT cv_unshare_project('trees', 'reader')}, '42704', 'unsharing twice: not shared');
sqlstate_is('owner', q{SELECT cv_share_project('trees', 'reader', access => 'admin')}, '22023', 'an unknown access is refused');
sqlstate_is('owner', q{SELECT cv_share_project('trees', 'owner')}, '22023', 'sharing with the owner is refused');
sqlstate_is('owner', q{SELECT cv_share_project('trees', 'nosuchrole')}, '42704', 'sharing with no role is refused');

done_testing();
