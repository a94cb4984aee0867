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
    public void Compute_has_no_separators_so_only_the_concatenation_matters()
    {
        Assert.Equal(TransactionHash.Compute("100.5", "ref_001", "USD", "@World", "bln_0b1c"),
            TransactionHash.Compute("100.5ref", "_001US", "D@", "Worldbln", "_0b1c"));
    }
}
