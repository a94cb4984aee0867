using System.Net;
using System.Net.Sockets;

namespace Blnk.TestSupport;

/// <summary>
/// A free loopback port kept bound, but not listening, for as long as a test owns it. Tests run in parallel: a
/// port only looked up and let go could be handed to another test's server (or used as an outgoing connection's
/// local port) while ours is down between a kill and a restart. The kernel hands out neither while the port is
/// bound, yet a listener of ours can still bind it beside the hold, since .NET binds with <c>SO_REUSEADDR</c> on
/// Linux and the hold never listens. Connections to the port are refused whenever nothing of ours listens on it.
/// </summary>
public sealed class LoopbackPortHold : IDisposable
{
    private readonly Socket _socket;

    private LoopbackPortHold(Socket socket)
    {
        _socket = socket;
        Port = ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    /// <summary>Binds a port the kernel chooses on 127.0.0.1.</summary>
    public static LoopbackPortHold Take()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            return new LoopbackPortHold(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => _socket.Dispose();
}
