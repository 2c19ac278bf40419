/* Unit tests of fcgi/slug.c: the folding table and the cut. */
#include <string.h>

#include "model/slug.h"
#include "t.h"

static void
expect(const char *in, const char *want)
{
	char	 out[SLUG_MAX + 1];
	size_t	 n = slug_fold(in, strlen(in), out);

	if (strcmp(out, want) != 0 || n != strlen(want)) {
		fprintf(stderr, "  \"%s\" -> \"%s\", want \"%s\"\n", in, out, want);
		t_failed++;
	}
}

static void
test_folding(void)
{
	expect("My Card", "my-card");
	expect("  Hello,  World!! ", "hello-world");
	expect("Crème Brûlée", "creme-brulee");
	expect("Straße", "strasse");
	expect("Æble og Ørred", "aeble-og-orred");
	expect("ÀÁÂÃÄÅ àáâãäå Ç ç", "aaaaaa-aaaaaa-c-c");
	expect("ÈÉÊË ÌÍÎÏ ÐÑ ÒÓÔÕÖ ÙÚÛÜ Ý ÿ Þþ", "eeee-iiii-dn-ooooo-uuuu-y-y-thth");
	expect("2×3÷4", "2-3-4");
	expect("日本語 title", "title");
	expect("ŁÓDŹ", "od");		/* only Latin-1 letters fold */
	expect("a/b..c", "a-b-c");
	expect("---", "item");
	expect("", "item");
	expect("!!!", "item");
	expect("\xff\xfe bad", "bad");
}

static void
test_cut(void)
{
	char	 in[10001], out[SLUG_MAX + 1];
	size_t	 n;

	memset(in, 'a', 10000);
	in[10000] = '\0';
	n = slug_fold(in, 10000, out);
	CHECK(n == SLUG_MAX && strspn(out, "a") == SLUG_MAX);
	/* a cut right after a separator leaves no trailing '-' */
	memset(in, 'b', 63);
	in[63] = ' ';
	strcpy(in + 64, "cde");
	n = slug_fold(in, strlen(in), out);
	CHECK(n == 63 && out[62] == 'b');
	/* a two-letter fold at the edge is cut */
	memset(in, 'x', 63);
	strcpy(in + 63, "ß");
	n = slug_fold(in, strlen(in), out);
	CHECK(n == SLUG_MAX && out[63] == 's');
}

int
main(void)
{
	RUN(test_folding);
	RUN(test_cut);
	return T_EXIT();
}
