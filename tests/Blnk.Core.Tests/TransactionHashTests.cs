using Blnk.Core.Transactions;

namespace Blnk.Core.Tests;

// Covers TransactionHash.Compute: hex SHA-256 of amount+reference+currency+source+destination (contract §6.13).
public sealed class TransactionHashTests
{
    [Theory]
    // Expected values computed independently: printf '%s' "<concatenation>" | sha256sum
    [InlineData("100.5", "ref_001", "USD", "@World", "bln_0b1c",
        "df28028397720873414b21755206c375baf8212d6903f20e7b4a413981e3e4d2")]
    [InlineData("0.30000000000000004", "réf-€", "EUR", "bln_a", "bln_b",
        "4f33ede5eb3418bcb749212bdde94dbf4eb3c6f2af43833fb46d6e521ca1e749")]
    [InlineData("", "", "", "", "",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public void Compute_is_the_lowercase_hex_sha256_of_the_concatenated_fields(string amount, string reference,
        string currency, string source, string destination, string expected)
    {
        Assert.Equal(expected, TransactionHash.Compute(amount, reference, currency, source, destination));
    }

    [Fact]
    public void Compute_hashes_the_concatenation_even_where_a_character_spans_two_fields()
    {
        // "a\uD83D" + "\uDE00b": the two halves of U+1F600 only make a character once joined.
        // printf '%s' '1a😀bsd' | sha256sum
        Assert.Equal("bbb41e13c57add0d1f2b67293ba72abd259087fba7e56f915231f2f3958a974d",
            TransactionHash.Compute("1", "a\uD83D", "\uDE00b", "s", "d"));
    }

    [Fact]
    public void Compute_hashes_fields_longer_than_the_stack_buffer()
    {
        // python3: sha256(('2' + 'x' * 600 + '€' * 300 + 'USD' + '@World' + 'bln_1').encode())
        Assert.Equal("eccd683209351a1459d6c280b3a06d68910e1d55103320c9d8f43bd9beb84ab2",
            TransactionHash.Compute("2", new string('x', 600) + new string('€', 300), "USD", "@World", "bln_1"));
    }

    [Fact]
    public void Compute_has_no_separators_so_only_the_concatenation_matters()
    {
        Assert.Equal(TransactionHash.Compute("100.5", "ref_001", "USD", "@World", "bln_0b1c"),
            TransactionHash.Compute("100.5ref", "_001US", "D@", "Worldbln", "_0b1c"));
    }
}
