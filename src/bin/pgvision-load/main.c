/*
 * main.c
 *	  pgvision-load: load labelled images from files into a pgvision
 *	  project.  This file reads the command line, picks the reader for the
 *	  input given, opens (or creates) the project and runs the load.
 *
 *	  pgvision-load --project flowers --create multiclass DIR
 *	  pgvision-load --project fruit --csv labels.csv [--images DIR]
 *	  pgvision-load --project cutlery --coco annotations.json --images DIR
 *	  pgvision-load --project cutlery --voc Annotations/ [--images DIR]
 *	  pgvision-load --project cutlery --customvision images.json --images DIR
 *
 * Connection flags and environment are libpq's, as for psql: -h, -p, -U,
 * -d, -w, -W and PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSERVICE,
 * ~/.pgpass.  docs/loading.md is the manual.
 */
#include "load.h"
#include "db.h"
#include "loader.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum
{
	OPT_PROJECT = 256,
	OPT_CREATE,
	OPT_DOMAIN,
	OPT_CSV,
	OPT_COCO,
	OPT_VOC,
	OPT_CUSTOMVISION,
	OPT_UPRIGHT_PIXELS,
	OPT_IMAGES,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_HELP
};

static void
usage(FILE *out)
{
	fprintf(out,
			"pgvision-load loads labelled images into a pgvision project.\n"
			"\n"
			"Usage:\n"
			"  pgvision-load --project NAME [OPTION]... DIR            one sub-folder per tag\n"
			"  pgvision-load --project NAME [OPTION]... --csv FILE     rows of file,tags (tags separated by ;)\n"
			"  pgvision-load --project NAME [OPTION]... --coco FILE    COCO detection JSON\n"
			"  pgvision-load --project NAME [OPTION]... --voc DIR      Pascal VOC XML files\n"
			"  pgvision-load --project NAME [OPTION]... --customvision FILE\n"
			"                                         Custom Vision training API image list (JSON)\n"
			"\n"
			"Project:\n"
			"  --project NAME        the project to load into\n"
			"  --create TASK         create it if missing: multiclass, multilabel or detection\n"
			"  --domain NAME         its domain when created (compact, or an imported backbone)\n"
			"\n"
			"Input:\n"
			"  --images DIR          folder the file names of --csv, --coco, --voc and\n"
			"                        --customvision are relative to (default: the\n"
			"                        annotation file's folder; for --voc also ../JPEGImages)\n"
			"  --upright-pixels      COCO/VOC pixel boxes were drawn on the upright image\n"
			"                        (EXIF orientation applied), not on the stored raster\n"
			"\n"
			"Output:\n"
			"  --progress            draw the progress bar (default: when stderr is a terminal)\n"
			"  --no-progress         never draw it\n"
			"  -q, --quiet           no progress bar\n"
			"  -v, --verbose         a line for every file\n"
			"\n"
			"Connection (as psql; PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ~/.pgpass):\n"
			"  -h, --host=HOST       server host or socket directory\n"
			"  -p, --port=PORT       server port\n"
			"  -U, --username=USER   role to connect as\n"
			"  -d, --dbname=DBNAME   database (or a connection string)\n"
			"  -w, --no-password     never prompt for a password\n"
			"  -W, --password        prompt for a password first\n"
			"\n"
			"  -V, --version         print the version and exit\n"
			"  -?, --help            print this help and exit\n"
			"\n"
			"Exit status: 0 every file is in the project, 1 some files were rejected\n"
			"(the summary names them and why), 2 the load could not start or stopped early.\n");
}

static void
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "pgvision-load: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"pgvision-load --help\" for more information.\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"project", required_argument, NULL, OPT_PROJECT},
		{"create", required_argument, NULL, OPT_CREATE},
		{"domain", required_argument, NULL, OPT_DOMAIN},
		{"csv", required_argument, NULL, OPT_CSV},
		{"coco", required_argument, NULL, OPT_COCO},
		{"voc", required_argument, NULL, OPT_VOC},
		{"customvision", required_argument, NULL, OPT_CUSTOMVISION},
		{"upright-pixels", no_argument, NULL, OPT_UPRIGHT_PIXELS},
		{"images", required_argument, NULL, OPT_IMAGES},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"dbname", required_argument, NULL, 'd'},
		{"no-password", no_argument, NULL, 'w'},
		{"password", no_argument, NULL, 'W'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0}
	};
	ConnOptions conn = {0};
	LoadOptions opts = {0};
	const char *project = NULL;
	const char *create_task = NULL;
	const char *domain = NULL;
	const char *csv = NULL;
	const char *coco = NULL;
	const char *voc = NULL;
	const char *customvision = NULL;
	const char *images = NULL;
	const char *folder = NULL;
	int			progress = -1;
	int			inputs = 0;
	int			c;
	ItemList	list = {0};
	bool		ok;
	Db			db;
	int			status;

	/* as PostgreSQL's programs: -? is help, and so is --help anywhere */
	if (argc > 1 && strcmp(argv[1], "-?") == 0)
	{
		usage(stdout);
		return 0;
	}
	while ((c = getopt_long(argc, argv, "qvh:p:U:d:wWV", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case OPT_PROJECT:
				project = optarg;
				break;
			case OPT_CREATE:
				if (strcmp(optarg, "multiclass") != 0 && strcmp(optarg, "multilabel") != 0 &&
					strcmp(optarg, "detection") != 0)
					usage_error("--create takes multiclass, multilabel or detection, not \"%s\"", optarg);
				create_task = optarg;
				break;
			case OPT_DOMAIN:
				domain = optarg;
				break;
			case OPT_CSV:
				csv = optarg;
				inputs++;
				break;
			case OPT_COCO:
				coco = optarg;
				inputs++;
				break;
			case OPT_VOC:
				voc = optarg;
				inputs++;
				break;
			case OPT_CUSTOMVISION:
				customvision = optarg;
				inputs++;
				break;
			case OPT_UPRIGHT_PIXELS:
				opts.upright_pixels = true;
				break;
			case OPT_IMAGES:
				images = optarg;
				break;
			case OPT_PROGRESS:
				progress = 1;
				break;
			case OPT_NO_PROGRESS:
			case 'q':
				progress = 0;
				break;
			case 'v':
				opts.verbose = true;
				break;
			case 'h':
				conn.host = optarg;
				break;
			case 'p':
				conn.port = optarg;
				break;
			case 'U':
				conn.user = optarg;
				break;
			case 'd':
				conn.dbname = optarg;
				break;
			case 'w':
				conn.password = -1;
				break;
			case 'W':
				conn.password = 1;
				break;
			case 'V':
				printf("pgvision-load %s\n", PGV_LOAD_VERSION);
				return 0;
			case OPT_HELP:
				usage(stdout);
				return 0;
			default:
				fprintf(stderr, "Try \"pgvision-load --help\" for more information.\n");
				return 2;
		}
	}
	if (optind < argc)
	{
		folder = argv[optind++];
		inputs++;
	}
	if (optind < argc)
		usage_error("too many arguments: \"%s\" (one input folder at most)", argv[optind]);
	if (project == NULL)
		usage_error("%s", "--project NAME is required");
	if (inputs == 0)
		usage_error("%s", "nothing to load: give a folder with one sub-folder per tag, --csv, --coco, --voc or --customvision");
	if (inputs > 1)
		usage_error("%s", "give one input: a folder, --csv, --coco, --voc or --customvision");
	if (domain != NULL && create_task == NULL)
		usage_error("%s", "--domain goes with --create");
	if (images != NULL && folder != NULL)
		usage_error("%s", "--images goes with an annotation file (--csv, --coco, --voc, --customvision)");
	if (opts.upright_pixels && coco == NULL && voc == NULL)
		usage_error("%s", "--upright-pixels goes with --coco or --voc (pixel boxes)");

	/* read the labels before connecting: a bad input costs no connection */
	if (folder != NULL)
		ok = read_tag_folders(folder, &list);
	else if (csv != NULL)
		ok = read_csv(csv, images, &list);
	else if (coco != NULL)
		ok = read_coco(coco, images, &list);
	else if (voc != NULL)
		ok = read_voc(voc, images, &list);
	else
		ok = read_customvision(customvision, images, &list);
	if (!ok)
		return 2;
	if (list.count == 0)
	{
		const char *input = folder ? folder : csv ? csv : coco ? coco : voc ? voc : customvision;

		fprintf(stderr, "pgvision-load: no images found in \"%s\"%s\n", input,
				folder ? " (images go in one sub-folder per tag)" : "");
		return 2;
	}

	db_connect(&db, &conn, opts.verbose);
	db_open_project(&db, project, create_task, domain);
	if (strcmp(db.task, "detection") == 0 && (folder != NULL || csv != NULL))
	{
		fprintf(stderr, "pgvision-load: project \"%s\" is a detection project; folders and CSV files give tags, which label classification projects\n",
				project);
		return 2;
	}

	opts.progress = progress >= 0 ? progress == 1 : isatty(fileno(stderr));
	status = run_load(&db, &list, &opts);
	db_close(&db);
	items_free(&list);
	return status;
}
