/* Unit tests of lib/sha256: the NIST vectors, any split of the input, and
 * the constant-time comparison. */
#include <stdlib.h>
#include <string.h>

#include "lib/hex.h"
#include "lib/sha256.h"
#include "t.h"

static int
digest_is(const void *s, size_t n, const char *want)
{
	unsigned char	 d[SHA256_LEN];
	char		 hex[2 * SHA256_LEN + 1];

	sha256(s, n, d);
	hex_encode(d, sizeof(d), hex);
	if (strcmp(hex, want) != 0)
		fprintf(stderr, "  got %s\n  want %s\n", hex, want);
	return strcmp(hex, want) == 0;
}

/* FIPS 180-4 examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf"). */
static void
test_sha256_nist(void)
{
	char	*a;

	CHECK(digest_is("", 0, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855"));
	CHECK(digest_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad"));
	CHECK(digest_is("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1"));
	CHECK(digest_is("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
	    "cf5b16a778af8380036ce59e7b049237"
	    "0b249b11e8f07a51afac45037afee9d1"));
	if ((a = malloc(1000000)) == NULL)
		abort();
	memset(a, 'a', 1000000);
	CHECK(digest_is(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0"));
	free(a);
}

/* Lengths around the padding's edges, fed in every split, agree. */
static void
test_sha256_splits(void)
{
	unsigned char	 msg[200], whole[SHA256_LEN], part[SHA256_LEN];
	struct sha256	 s;
	size_t		 n, cut, i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + 3);
	for (n = 0; n <= 130; n++) {
		sha256(msg, n, whole);
		for (cut = 0; cut <= n; cut++) {
			sha256_init(&s);
			sha256_update(&s, msg, cut);
			sha256_update(&s, msg + cut, 0);
			sha256_update(&s, msg + cut, n - cut);
			sha256_final(&s, part);
			CHECK(memcmp(whole, part, SHA256_LEN) == 0);
		}
	}
	/* 55, 56 and 64 bytes: the length fits in the last block, or not */
	CHECK(digest_is("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    55, "9f4390f8d30c2dd92ec9f095b65e2b9a"
	    "e9b0a925a5258e241c9f1e910f734318"));
	CHECK(digest_is("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    56, "b35439a4ac6f0948b6d6f9e3c6af0f5f"
	    "590ce20f1bde7090ef7970686ec6738a"));
	CHECK(digest_is("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaa", 64, "ffe054fe7ae0cb6dc65c3af9b61d5209"
	    "f439851db43d0ba5997337df154668eb"));
}

static void
test_sha256_equal(void)
{
	unsigned char	 a[SHA256_LEN], b[SHA256_LEN];
	int		 i, bit;

	sha256("token", 5, a);
	memcpy(b, a, sizeof(b));
	CHECK(sha256_equal(a, b) == 1);
	CHECK(sha256_equal(a, a) == 1);
	/* any one bit anywhere makes them differ */
	for (i = 0; i < SHA256_LEN; i++)
		for (bit = 0; bit < 8; bit++) {
			b[i] ^= (unsigned char)(1 << bit);
			CHECK(sha256_equal(a, b) == 0);
			b[i] ^= (unsigned char)(1 << bit);
		}
	memset(a, 0, sizeof(a));
	memset(b, 0xff, sizeof(b));
	CHECK(sha256_equal(a, b) == 0);
	memset(b, 0, sizeof(b));
	CHECK(sha256_equal(a, b) == 1);
}

int
main(void)
{
	RUN(test_sha256_nist);
	RUN(test_sha256_splits);
	RUN(test_sha256_equal);
	return T_EXIT();
}
