#!/usr/bin/perl
# tools/lib/manifest_annotations.pl FORMAT MANIFEST.jsonl OUT
#   The boxes of a shared dataset's manifest.jsonl (one image a line:
#   file, width, height, regions of tag, left, top, width, height as
#   fractions) written as an annotation file pgvision-load reads, for
#   tools/fuzz.sh to seed the loader's harnesses with at run time (the
#   shared datasets are never committed).  FORMAT: coco (one JSON file,
#   pixel boxes), customvision (one JSON list, fractions, ids from the file
#   names), voc (OUT is a folder: one XML file an image, 1-based pixels).
use strict;
use warnings;
use JSON::PP;

my ($format, $manifest, $out) = @ARGV;
die "usage: $0 coco|customvision|voc MANIFEST.jsonl OUT\n" unless defined $out;
open(my $in, '<', $manifest) or die "$manifest: $!\n";
my @images = map { decode_json($_) } grep { /\S/ } <$in>;
close($in);
my $json = JSON::PP->new->canonical;

sub write_out
{
	my ($path, $text) = @_;
	open(my $fh, '>', $path) or die "$path: $!\n";
	print $fh $text;
	close($fh);
}

sub base_name { my $f = shift; $f =~ s{.*/}{}; return $f; }

if ($format eq 'coco')
{
	my (%cats, @imgs, @anns);
	my $n = 0;
	for my $im (@images)
	{
		my $id = ++$n;
		push @imgs, { id => $id, file_name => base_name($im->{file}), width => $im->{width}, height => $im->{height} };
		for my $r (@{ $im->{regions} // [] })
		{
			$cats{ $r->{tag} } //= 1 + keys %cats;
			push @anns, { id => 1 + @anns, image_id => $id, category_id => $cats{ $r->{tag} }, iscrowd => 0,
				bbox => [ $r->{left} * $im->{width}, $r->{top} * $im->{height},
					$r->{width} * $im->{width}, $r->{height} * $im->{height} ] };
		}
	}
	my @categories = map { { id => $cats{$_}, name => $_ } } sort { $cats{$a} <=> $cats{$b} } keys %cats;
	write_out($out, $json->encode({ images => \@imgs, annotations => \@anns, categories => \@categories }));
}
elsif ($format eq 'customvision')
{
	my @list;
	for my $im (@images)
	{
		(my $id = base_name($im->{file})) =~ s/\.[^.]*$//;
		my %tags = map { $_->{tag} => 1 } @{ $im->{regions} // [] };
		push @list, { id => $id, width => $im->{width}, height => $im->{height},
			originalImageUri => "https://example.invalid/$im->{file}?sig=x",
			tags => [ map { { tagName => $_ } } sort keys %tags ],
			regions => [ map { { tagName => $_->{tag}, left => $_->{left}, top => $_->{top},
				width => $_->{width}, height => $_->{height} } } @{ $im->{regions} // [] } ] };
	}
	write_out($out, $json->encode(\@list));
}
elsif ($format eq 'voc')
{
	mkdir $out;
	for my $im (@images)
	{
		my $name = base_name($im->{file});
		my $xml = "<annotation>\n\t<folder>JPEGImages</folder>\n\t<filename>$name</filename>\n"
		  . "\t<size><width>$im->{width}</width><height>$im->{height}</height><depth>3</depth></size>\n";
		for my $r (@{ $im->{regions} // [] })
		{
			my ($x0, $y0) = ($r->{left} * $im->{width}, $r->{top} * $im->{height});
			$xml .= sprintf("\t<object><name>%s</name><difficult>0</difficult><bndbox>"
				  . "<xmin>%.2f</xmin><ymin>%.2f</ymin><xmax>%.2f</xmax><ymax>%.2f</ymax></bndbox></object>\n",
				$r->{tag}, $x0 + 1, $y0 + 1, $x0 + $r->{width} * $im->{width}, $y0 + $r->{height} * $im->{height});
		}
		(my $stem = $name) =~ s/\.[^.]*$//;
		write_out("$out/$stem.xml", "$xml</annotation>\n");
	}
}
else
{
	die "unknown format $format\n";
}
