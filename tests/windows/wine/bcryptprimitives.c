/* Test set-up only, never shipped: Wine 8 has no bcryptprimitives.dll, whose
 * ProcessPrng Rust's standard library (1.78 and later) imports on Windows for
 * HashMap seeds and the like. This stand-in, built with mingw-w64 and copied
 * into the Wine prefix's system32, answers ProcessPrng with Wine's own
 * RtlGenRandom (advapi32!SystemFunction036). Windows 10 and later have the
 * real DLL. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
