/* ndcm_ioctl.h: the ndcm driver's IOCTL ABI for ND provider authors.
 * GENERATED from crates/ndi/src/abi by `ndcm_ndi::abi::header::c_header`;
 * do not edit. Regenerate with:
 *   NDCM_BLESS=1 cargo test -p ndcm-ndi --test c_header
 * All fields little-endian unless marked network order; every input
 * starts with NdcmHeader { Version = NDCM_ABI_VERSION, Flags = 0 }. */
#ifndef NDCM_IOCTL_H
#define NDCM_IOCTL_H

#include <stddef.h>
#include <stdint.h>

#define NDCM_STATIC_ASSERT(cond, name) typedef char ndcm_assert_##name[(cond) ? 1 : -1]

#define NDCM_ABI_VERSION 0x2u
#define NDCM_DEVICE_TYPE 0x8c4du
#define NDCM_AF_INET 0x2u
#define NDCM_AF_INET6 0x17u
#define NDCM_PROTOCOL_TCP 0x6u
#define NDCM_PROTOCOL_UDP 0x11u
#define NDCM_QP_STATE_RESET 0x0u
#define NDCM_QP_STATE_INIT 0x1u
#define NDCM_QP_STATE_RTR 0x2u
#define NDCM_QP_STATE_RTS 0x3u
#define NDCM_QP_STATE_ERROR 0x4u
#define NDCM_MAX_REQ_PDATA 0x38u
#define NDCM_MAX_REP_PDATA 0xc4u
#define NDCM_MAX_REJ_PDATA 0x94u
#define NDCM_MAD_SIZE 0x100u
#define NDCM_MAX_ADAPTER_ADDRESSES 0x10u

#define IOCTL_NDCM_NOOP 0x8c4d2400u /* in: NdcmHeader, out: none */
#define IOCTL_NDCM_OPEN_ADAPTER 0x8c4d2404u /* in: NdcmOpenAdapterIn, out: NdcmOpenAdapterOut */
#define IOCTL_NDCM_CREATE_QP 0x8c4d2408u /* in: NdcmCreateQpIn, out: NdcmCreateQpOut */
#define IOCTL_NDCM_DESTROY_QP 0x8c4d240cu /* in: NdcmHandleIn, out: none */
#define IOCTL_NDCM_MODIFY_QP 0x8c4d2410u /* in: NdcmModifyQpIn, out: NdcmModifyQpOut */
#define IOCTL_NDCM_CREATE_CEP 0x8c4d2414u /* in: NdcmHandleIn, out: NdcmHandleOut */
#define IOCTL_NDCM_DESTROY_CEP 0x8c4d2418u /* in: NdcmHandleIn, out: none */
#define IOCTL_NDCM_CEP_GET_PDATA 0x8c4d241cu /* in: NdcmHandleIn, out: NdcmGetPdataOut */
#define IOCTL_NDCM_LISTEN_CM 0x8c4d2420u /* in: NdcmListenIn, out: NdcmListenOut */
#define IOCTL_NDCM_GET_REQ_CM 0x8c4d2424u /* in: NdcmGetReqIn, out: none */
#define IOCTL_NDCM_REQ_CM 0x8c4d2428u /* in: NdcmReqCmIn, out: none */
#define IOCTL_NDCM_REP_CM 0x8c4d242cu /* in: NdcmRepCmIn, out: none */
#define IOCTL_NDCM_RTU_CM 0x8c4d2430u /* in: NdcmHandleIn, out: none */
#define IOCTL_NDCM_REJ_CM 0x8c4d2434u /* in: NdcmRejCmIn, out: none */
#define IOCTL_NDCM_DREQ_CM 0x8c4d2438u /* in: NdcmHandleIn, out: none */
#define IOCTL_NDCM_NOTIFY_DREQ 0x8c4d243cu /* in: NdcmHandleIn, out: none */
#define IOCTL_NDCM_CANCEL_CM_IRPS 0x8c4d2440u /* in: NdcmHandleIn, out: none */
#define IOCTL_NDCM_CEP_GET_ADDRESS 0x8c4d2444u /* in: NdcmHandleIn, out: NdcmGetAddressOut */
#define IOCTL_NDCM_MAD_GET_OUTBOUND 0x8c4de480u /* in: NdcmHeader, out: NdcmMadEnvelope */
#define IOCTL_NDCM_MAD_SUBMIT_INBOUND 0x8c4de484u /* in: NdcmMadSubmitIn, out: none */
#define IOCTL_NDCM_REGISTER_ADAPTER 0x8c4de488u /* in: NdcmRegisterAdapterIn, out: NdcmRegisterAdapterOut */
#define IOCTL_NDCM_WITHDRAW_ADAPTER 0x8c4de48cu /* in: NdcmWithdrawAdapterIn, out: none */

#define NDCM_STATUS_SUCCESS ((int32_t)0x00000000u)
#define NDCM_STATUS_PENDING ((int32_t)0x00000103u)
#define NDCM_STATUS_BUFFER_OVERFLOW ((int32_t)0x80000005u)
#define NDCM_STATUS_UNSUCCESSFUL ((int32_t)0xc0000001u)
#define NDCM_STATUS_INVALID_HANDLE ((int32_t)0xc0000008u)
#define NDCM_STATUS_INVALID_PARAMETER ((int32_t)0xc000000du)
#define NDCM_STATUS_INVALID_DEVICE_REQUEST ((int32_t)0xc0000010u)
#define NDCM_STATUS_BUFFER_TOO_SMALL ((int32_t)0xc0000023u)
#define NDCM_STATUS_ACCESS_DENIED ((int32_t)0xc0000022u)
#define NDCM_STATUS_SHARING_VIOLATION ((int32_t)0xc0000043u)
#define NDCM_STATUS_INSUFFICIENT_RESOURCES ((int32_t)0xc000009au)
#define NDCM_STATUS_IO_TIMEOUT ((int32_t)0xc00000b5u)
#define NDCM_STATUS_CANCELLED ((int32_t)0xc0000120u)
#define NDCM_STATUS_INVALID_DEVICE_STATE ((int32_t)0xc0000184u)
#define NDCM_STATUS_INVALID_BUFFER_SIZE ((int32_t)0xc0000206u)
#define NDCM_STATUS_CONNECTION_DISCONNECTED ((int32_t)0xc000020cu)
#define NDCM_STATUS_CONNECTION_REFUSED ((int32_t)0xc0000236u)
#define NDCM_STATUS_CONNECTION_INVALID ((int32_t)0xc000023au)
#define NDCM_STATUS_CONNECTION_ACTIVE ((int32_t)0xc000023bu)
#define NDCM_STATUS_NETWORK_UNREACHABLE ((int32_t)0xc000023cu)
#define NDCM_STATUS_HOST_UNREACHABLE ((int32_t)0xc000023du)
#define NDCM_STATUS_CONNECTION_ABORTED ((int32_t)0xc0000241u)
#define NDCM_STATUS_DEVICE_REMOVED ((int32_t)0xc00002b6u)

/* The first 8 bytes of every input. */
typedef struct NdcmHeader {
    /* ABI version; must be `NDCM_ABI_VERSION` (else INVALID_DEVICE_REQUEST). */
    uint32_t version; /* offset 0, 4 bytes */
    /* No flags are defined; must be 0 (else INVALID_PARAMETER). */
    uint32_t flags; /* offset 4, 4 bytes */
} NdcmHeader;
NDCM_STATIC_ASSERT(sizeof(NdcmHeader) == 8, NdcmHeader_size);
NDCM_STATIC_ASSERT(offsetof(NdcmHeader, version) == 0, NdcmHeader_version_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmHeader, flags) == 4, NdcmHeader_flags_offset);

/* An IP address and port. IPv4 uses `addr[0..4]`, the other 12 bytes zero. */
typedef struct NdcmAddress {
    /* `NDCM_AF_INET` (2) or `NDCM_AF_INET6` (23), the Windows values. */
    uint16_t family; /* offset 0, 2 bytes */
    /* Port, network order; 0 asks the driver to allocate one. */
    uint16_t port_be; /* offset 2, 2 bytes */
    /* Must be 0. */
    uint32_t reserved; /* offset 4, 4 bytes */
    /* Address bytes, network order. */
    uint8_t addr[16]; /* offset 8, 16 bytes */
} NdcmAddress;
NDCM_STATIC_ASSERT(sizeof(NdcmAddress) == 24, NdcmAddress_size);
NDCM_STATIC_ASSERT(offsetof(NdcmAddress, family) == 0, NdcmAddress_family_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmAddress, port_be) == 2, NdcmAddress_port_be_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmAddress, reserved) == 4, NdcmAddress_reserved_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmAddress, addr) == 8, NdcmAddress_addr_offset);

/* Input naming one object by handle (DESTROY_QP, DESTROY_CEP, CEP_GET_PDATA, */
/* CEP_GET_ADDRESS, RTU_CM, DREQ_CM, NOTIFY_DREQ, CANCEL_CM_IRPS) or an */
/* adapter (CREATE_CEP). */
typedef struct NdcmHandleIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* The object's handle. */
    uint64_t handle; /* offset 8, 8 bytes */
} NdcmHandleIn;
NDCM_STATIC_ASSERT(sizeof(NdcmHandleIn) == 16, NdcmHandleIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmHandleIn, header) == 0, NdcmHandleIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmHandleIn, handle) == 8, NdcmHandleIn_handle_offset);

/* Output carrying one new handle (CREATE_CEP). */
typedef struct NdcmHandleOut {
    /* The new object's handle. */
    uint64_t handle; /* offset 0, 8 bytes */
} NdcmHandleOut;
NDCM_STATIC_ASSERT(sizeof(NdcmHandleOut) == 8, NdcmHandleOut_size);
NDCM_STATIC_ASSERT(offsetof(NdcmHandleOut, handle) == 0, NdcmHandleOut_handle_offset);

/* OPEN_ADAPTER input. */
typedef struct NdcmOpenAdapterIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* Index of the adapter on this device (0-based). */
    uint32_t adapter_index; /* offset 8, 4 bytes */
    /* Must be 0. */
    uint32_t reserved; /* offset 12, 4 bytes */
} NdcmOpenAdapterIn;
NDCM_STATIC_ASSERT(sizeof(NdcmOpenAdapterIn) == 16, NdcmOpenAdapterIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmOpenAdapterIn, header) == 0, NdcmOpenAdapterIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmOpenAdapterIn, adapter_index) == 8, NdcmOpenAdapterIn_adapter_index_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmOpenAdapterIn, reserved) == 12, NdcmOpenAdapterIn_reserved_offset);

/* OPEN_ADAPTER output. */
typedef struct NdcmOpenAdapterOut {
    /* The adapter handle, valid in this file only. */
    uint64_t adapter; /* offset 0, 8 bytes */
    /* Largest inbound RDMA read limit (responder resources). */
    uint32_t max_inbound_read_limit; /* offset 8, 4 bytes */
    /* Largest outbound RDMA read limit (initiator depth). */
    uint32_t max_outbound_read_limit; /* offset 12, 4 bytes */
    /* Number of local IP addresses of the adapter. */
    uint32_t address_count; /* offset 16, 4 bytes */
    /* Zero. */
    uint32_t reserved; /* offset 20, 4 bytes */
} NdcmOpenAdapterOut;
NDCM_STATIC_ASSERT(sizeof(NdcmOpenAdapterOut) == 24, NdcmOpenAdapterOut_size);
NDCM_STATIC_ASSERT(offsetof(NdcmOpenAdapterOut, adapter) == 0, NdcmOpenAdapterOut_adapter_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmOpenAdapterOut, max_inbound_read_limit) == 8, NdcmOpenAdapterOut_max_inbound_read_limit_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmOpenAdapterOut, max_outbound_read_limit) == 12, NdcmOpenAdapterOut_max_outbound_read_limit_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmOpenAdapterOut, address_count) == 16, NdcmOpenAdapterOut_address_count_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmOpenAdapterOut, reserved) == 20, NdcmOpenAdapterOut_reserved_offset);

/* CREATE_QP input (RC only). */
typedef struct NdcmCreateQpIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* The adapter the QP belongs to. */
    uint64_t adapter; /* offset 8, 8 bytes */
    /* Send queue depth, 1..=adapter maximum. */
    uint32_t send_depth; /* offset 16, 4 bytes */
    /* Receive queue depth, 1..=adapter maximum. */
    uint32_t receive_depth; /* offset 20, 4 bytes */
    /* Scatter/gather entries per send, 1..=adapter maximum. */
    uint32_t send_sge; /* offset 24, 4 bytes */
    /* Scatter/gather entries per receive, 1..=adapter maximum. */
    uint32_t receive_sge; /* offset 28, 4 bytes */
    /* Inline data bytes, 0..=adapter maximum. */
    uint32_t inline_data; /* offset 32, 4 bytes */
    /* Must be 0. */
    uint32_t reserved; /* offset 36, 4 bytes */
} NdcmCreateQpIn;
NDCM_STATIC_ASSERT(sizeof(NdcmCreateQpIn) == 40, NdcmCreateQpIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpIn, header) == 0, NdcmCreateQpIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpIn, adapter) == 8, NdcmCreateQpIn_adapter_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpIn, send_depth) == 16, NdcmCreateQpIn_send_depth_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpIn, receive_depth) == 20, NdcmCreateQpIn_receive_depth_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpIn, send_sge) == 24, NdcmCreateQpIn_send_sge_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpIn, receive_sge) == 28, NdcmCreateQpIn_receive_sge_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpIn, inline_data) == 32, NdcmCreateQpIn_inline_data_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpIn, reserved) == 36, NdcmCreateQpIn_reserved_offset);

/* CREATE_QP output. */
typedef struct NdcmCreateQpOut {
    /* The QP handle. */
    uint64_t qp; /* offset 0, 8 bytes */
    /* The QP number (24 bits). */
    uint32_t qpn; /* offset 8, 4 bytes */
    /* Zero. */
    uint32_t reserved; /* offset 12, 4 bytes */
} NdcmCreateQpOut;
NDCM_STATIC_ASSERT(sizeof(NdcmCreateQpOut) == 16, NdcmCreateQpOut_size);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpOut, qp) == 0, NdcmCreateQpOut_qp_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpOut, qpn) == 8, NdcmCreateQpOut_qpn_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmCreateQpOut, reserved) == 12, NdcmCreateQpOut_reserved_offset);

/* MODIFY_QP input. */
typedef struct NdcmModifyQpIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* The QP. */
    uint64_t qp; /* offset 8, 8 bytes */
    /* `NDCM_QP_STATE_RESET`, `_INIT` or `_ERROR` (RTR/RTS only through the CM). */
    uint32_t state; /* offset 16, 4 bytes */
    /* Must be 0. */
    uint32_t reserved; /* offset 20, 4 bytes */
} NdcmModifyQpIn;
NDCM_STATIC_ASSERT(sizeof(NdcmModifyQpIn) == 24, NdcmModifyQpIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmModifyQpIn, header) == 0, NdcmModifyQpIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmModifyQpIn, qp) == 8, NdcmModifyQpIn_qp_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmModifyQpIn, state) == 16, NdcmModifyQpIn_state_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmModifyQpIn, reserved) == 20, NdcmModifyQpIn_reserved_offset);

/* MODIFY_QP output. */
typedef struct NdcmModifyQpOut {
    /* The QP's state after the call. */
    uint32_t state; /* offset 0, 4 bytes */
    /* Zero. */
    uint32_t reserved; /* offset 4, 4 bytes */
} NdcmModifyQpOut;
NDCM_STATIC_ASSERT(sizeof(NdcmModifyQpOut) == 8, NdcmModifyQpOut_size);
NDCM_STATIC_ASSERT(offsetof(NdcmModifyQpOut, state) == 0, NdcmModifyQpOut_state_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmModifyQpOut, reserved) == 4, NdcmModifyQpOut_reserved_offset);

/* CEP_GET_PDATA output (fixed part); the private data follows. If the */
/* output is too small for the data, what fits is copied, `length` is the */
/* full size and the status is BUFFER_OVERFLOW. */
typedef struct NdcmGetPdataOut {
    /* Inbound read limit (the peer's responder resources / our offer). */
    uint32_t inbound_read_limit; /* offset 0, 4 bytes */
    /* Outbound read limit. */
    uint32_t outbound_read_limit; /* offset 4, 4 bytes */
    /* Private-data length in bytes (REQ 56, REP 196, REJ 148 at most). */
    uint32_t length; /* offset 8, 4 bytes */
    /* Zero. */
    uint32_t reserved; /* offset 12, 4 bytes */
} NdcmGetPdataOut;
NDCM_STATIC_ASSERT(sizeof(NdcmGetPdataOut) == 16, NdcmGetPdataOut_size);
NDCM_STATIC_ASSERT(offsetof(NdcmGetPdataOut, inbound_read_limit) == 0, NdcmGetPdataOut_inbound_read_limit_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmGetPdataOut, outbound_read_limit) == 4, NdcmGetPdataOut_outbound_read_limit_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmGetPdataOut, length) == 8, NdcmGetPdataOut_length_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmGetPdataOut, reserved) == 12, NdcmGetPdataOut_reserved_offset);

/* CEP_GET_ADDRESS output: both IP endpoints of a connection that is */
/* connecting or connected. The active side's come from its validated */
/* REQ_CM (the local port is the one the driver allocated when 0 was */
/* asked); the passive side's from the rdma_cm header of the REQ it took. */
typedef struct NdcmGetAddressOut {
    /* Our address and port (GetLocalAddress). */
    NdcmAddress local; /* offset 0, 24 bytes */
    /* The peer's address and port (GetPeerAddress). */
    NdcmAddress remote; /* offset 24, 24 bytes */
} NdcmGetAddressOut;
NDCM_STATIC_ASSERT(sizeof(NdcmGetAddressOut) == 48, NdcmGetAddressOut_size);
NDCM_STATIC_ASSERT(offsetof(NdcmGetAddressOut, local) == 0, NdcmGetAddressOut_local_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmGetAddressOut, remote) == 24, NdcmGetAddressOut_remote_offset);

/* LISTEN_CM input. */
typedef struct NdcmListenIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* The adapter to listen on. */
    uint64_t adapter; /* offset 8, 8 bytes */
    /* Untaken-REQ backlog; 0 → default, above the maximum → clamped. */
    uint32_t backlog; /* offset 16, 4 bytes */
    /* Port space: `NDCM_PROTOCOL_TCP` (0x06) or `NDCM_PROTOCOL_UDP` (0x11). */
    uint32_t protocol; /* offset 20, 4 bytes */
    /* Local address: one of the adapter's or the wildcard; port 0 → allocate. */
    NdcmAddress local; /* offset 24, 24 bytes */
} NdcmListenIn;
NDCM_STATIC_ASSERT(sizeof(NdcmListenIn) == 48, NdcmListenIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmListenIn, header) == 0, NdcmListenIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmListenIn, adapter) == 8, NdcmListenIn_adapter_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmListenIn, backlog) == 16, NdcmListenIn_backlog_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmListenIn, protocol) == 20, NdcmListenIn_protocol_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmListenIn, local) == 24, NdcmListenIn_local_offset);

/* LISTEN_CM output. */
typedef struct NdcmListenOut {
    /* The listener handle. */
    uint64_t listener; /* offset 0, 8 bytes */
    /* The bound port (network order), allocated if 0 was asked. */
    uint16_t port_be; /* offset 8, 2 bytes */
    /* Zero. */
    uint16_t reserved0; /* offset 10, 2 bytes */
    /* Zero. */
    uint32_t reserved1; /* offset 12, 4 bytes */
} NdcmListenOut;
NDCM_STATIC_ASSERT(sizeof(NdcmListenOut) == 16, NdcmListenOut_size);
NDCM_STATIC_ASSERT(offsetof(NdcmListenOut, listener) == 0, NdcmListenOut_listener_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmListenOut, port_be) == 8, NdcmListenOut_port_be_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmListenOut, reserved0) == 10, NdcmListenOut_reserved0_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmListenOut, reserved1) == 12, NdcmListenOut_reserved1_offset);

/* GET_REQ_CM input. */
typedef struct NdcmGetReqIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* The listener. */
    uint64_t listener; /* offset 8, 8 bytes */
    /* An IDLE connection that will receive the request. */
    uint64_t connection; /* offset 16, 8 bytes */
} NdcmGetReqIn;
NDCM_STATIC_ASSERT(sizeof(NdcmGetReqIn) == 24, NdcmGetReqIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmGetReqIn, header) == 0, NdcmGetReqIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmGetReqIn, listener) == 8, NdcmGetReqIn_listener_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmGetReqIn, connection) == 16, NdcmGetReqIn_connection_offset);

/* REQ_CM (Connect) input; `pdata_length` bytes of private data at */
/* `pdata_offset`. */
typedef struct NdcmReqCmIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* The IDLE connection. */
    uint64_t connection; /* offset 8, 8 bytes */
    /* The RC QP, in INIT, same adapter. */
    uint64_t qp; /* offset 16, 8 bytes */
    /* Inbound read limit (responder resources); lowered to the adapter's. */
    uint32_t inbound_read_limit; /* offset 24, 4 bytes */
    /* Outbound read limit (initiator depth); lowered to the adapter's. */
    uint32_t outbound_read_limit; /* offset 28, 4 bytes */
    /* Port space: `NDCM_PROTOCOL_TCP` or `NDCM_PROTOCOL_UDP`. */
    uint32_t protocol; /* offset 32, 4 bytes */
    /* Private-data length, 0..=56. */
    uint32_t pdata_length; /* offset 36, 4 bytes */
    /* Private-data offset, >= 96 (0 allowed when the length is 0). */
    uint32_t pdata_offset; /* offset 40, 4 bytes */
    /* Must be 0. */
    uint32_t reserved; /* offset 44, 4 bytes */
    /* Local address: one of the adapter's; port 0 → allocate. */
    NdcmAddress local; /* offset 48, 24 bytes */
    /* Destination address and port (port non-zero). */
    NdcmAddress remote; /* offset 72, 24 bytes */
} NdcmReqCmIn;
NDCM_STATIC_ASSERT(sizeof(NdcmReqCmIn) == 96, NdcmReqCmIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, header) == 0, NdcmReqCmIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, connection) == 8, NdcmReqCmIn_connection_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, qp) == 16, NdcmReqCmIn_qp_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, inbound_read_limit) == 24, NdcmReqCmIn_inbound_read_limit_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, outbound_read_limit) == 28, NdcmReqCmIn_outbound_read_limit_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, protocol) == 32, NdcmReqCmIn_protocol_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, pdata_length) == 36, NdcmReqCmIn_pdata_length_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, pdata_offset) == 40, NdcmReqCmIn_pdata_offset_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, reserved) == 44, NdcmReqCmIn_reserved_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, local) == 48, NdcmReqCmIn_local_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmReqCmIn, remote) == 72, NdcmReqCmIn_remote_offset);

/* REP_CM (Accept) input; private data at `pdata_offset`. */
typedef struct NdcmRepCmIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* The connection, in REQ_RCVD. */
    uint64_t connection; /* offset 8, 8 bytes */
    /* The RC QP, in INIT, same adapter. */
    uint64_t qp; /* offset 16, 8 bytes */
    /* Inbound read limit; lowered to min(asked, peer's, adapter's). */
    uint32_t inbound_read_limit; /* offset 24, 4 bytes */
    /* Outbound read limit; lowered likewise. */
    uint32_t outbound_read_limit; /* offset 28, 4 bytes */
    /* Private-data length, 0..=196. */
    uint32_t pdata_length; /* offset 32, 4 bytes */
    /* Private-data offset, >= 40 (0 allowed when the length is 0). */
    uint32_t pdata_offset; /* offset 36, 4 bytes */
} NdcmRepCmIn;
NDCM_STATIC_ASSERT(sizeof(NdcmRepCmIn) == 40, NdcmRepCmIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmRepCmIn, header) == 0, NdcmRepCmIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRepCmIn, connection) == 8, NdcmRepCmIn_connection_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRepCmIn, qp) == 16, NdcmRepCmIn_qp_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRepCmIn, inbound_read_limit) == 24, NdcmRepCmIn_inbound_read_limit_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRepCmIn, outbound_read_limit) == 28, NdcmRepCmIn_outbound_read_limit_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRepCmIn, pdata_length) == 32, NdcmRepCmIn_pdata_length_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRepCmIn, pdata_offset) == 36, NdcmRepCmIn_pdata_offset_offset);

/* REJ_CM (Reject) input; private data at `pdata_offset`. */
typedef struct NdcmRejCmIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* The connection, in REQ_RCVD or REP_RCVD. */
    uint64_t connection; /* offset 8, 8 bytes */
    /* Private-data length, 0..=148. */
    uint32_t pdata_length; /* offset 16, 4 bytes */
    /* Private-data offset, >= 24 (0 allowed when the length is 0). */
    uint32_t pdata_offset; /* offset 20, 4 bytes */
} NdcmRejCmIn;
NDCM_STATIC_ASSERT(sizeof(NdcmRejCmIn) == 24, NdcmRejCmIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmRejCmIn, header) == 0, NdcmRejCmIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRejCmIn, connection) == 8, NdcmRejCmIn_connection_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRejCmIn, pdata_length) == 16, NdcmRejCmIn_pdata_length_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRejCmIn, pdata_offset) == 20, NdcmRejCmIn_pdata_offset_offset);

/* Where a MAD comes from or goes to (QP1 address). */
typedef struct NdcmMadAddress {
    /* Remote port GID (for RoCE: the IPv4-mapped or IPv6 address). */
    uint8_t gid[16]; /* offset 0, 16 bytes */
    /* Remote QP number (1 for the CM). */
    uint32_t qpn; /* offset 16, 4 bytes */
    /* Q_Key (0x80010000 for QP1). */
    uint32_t qkey; /* offset 20, 4 bytes */
    /* P_Key index. */
    uint16_t pkey_index; /* offset 24, 2 bytes */
    /* Local port number (1-based). */
    uint8_t port; /* offset 26, 1 bytes */
    /* Must be 0. */
    uint8_t reserved0; /* offset 27, 1 bytes */
    /* Must be 0. */
    uint32_t reserved1; /* offset 28, 4 bytes */
} NdcmMadAddress;
NDCM_STATIC_ASSERT(sizeof(NdcmMadAddress) == 32, NdcmMadAddress_size);
NDCM_STATIC_ASSERT(offsetof(NdcmMadAddress, gid) == 0, NdcmMadAddress_gid_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmMadAddress, qpn) == 16, NdcmMadAddress_qpn_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmMadAddress, qkey) == 20, NdcmMadAddress_qkey_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmMadAddress, pkey_index) == 24, NdcmMadAddress_pkey_index_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmMadAddress, port) == 26, NdcmMadAddress_port_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmMadAddress, reserved0) == 27, NdcmMadAddress_reserved0_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmMadAddress, reserved1) == 28, NdcmMadAddress_reserved1_offset);

/* MAD_GET_OUTBOUND output: one MAD the CM wants sent. */
typedef struct NdcmMadEnvelope {
    /* Destination. */
    NdcmMadAddress address; /* offset 0, 32 bytes */
    /* The 256-byte CM MAD, network order. */
    uint8_t mad[256]; /* offset 32, 256 bytes */
} NdcmMadEnvelope;
NDCM_STATIC_ASSERT(sizeof(NdcmMadEnvelope) == 288, NdcmMadEnvelope_size);
NDCM_STATIC_ASSERT(offsetof(NdcmMadEnvelope, address) == 0, NdcmMadEnvelope_address_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmMadEnvelope, mad) == 32, NdcmMadEnvelope_mad_offset);

/* MAD_SUBMIT_INBOUND input: one MAD received from the wire. */
typedef struct NdcmMadSubmitIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* Source. */
    NdcmMadAddress address; /* offset 8, 32 bytes */
    /* The 256-byte MAD, network order. */
    uint8_t mad[256]; /* offset 40, 256 bytes */
} NdcmMadSubmitIn;
NDCM_STATIC_ASSERT(sizeof(NdcmMadSubmitIn) == 296, NdcmMadSubmitIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmMadSubmitIn, header) == 0, NdcmMadSubmitIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmMadSubmitIn, address) == 8, NdcmMadSubmitIn_address_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmMadSubmitIn, mad) == 40, NdcmMadSubmitIn_mad_offset);

/* REGISTER_ADAPTER input (agent only); `address_count` NdcmAddress */
/* entries (port 0) follow at `address_offset`. The adapter's GIDs are */
/* its addresses (IPv4-mapped for IPv4: RoCEv2). */
typedef struct NdcmRegisterAdapterIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* Largest inbound RDMA read limit, 1..=255. */
    uint32_t max_inbound_read_limit; /* offset 8, 4 bytes */
    /* Largest outbound RDMA read limit, 1..=255. */
    uint32_t max_outbound_read_limit; /* offset 12, 4 bytes */
    /* Largest queue depth, >= 1. */
    uint32_t max_qp_depth; /* offset 16, 4 bytes */
    /* Largest scatter/gather count, >= 1. */
    uint32_t max_sge; /* offset 20, 4 bytes */
    /* Largest inline data size. */
    uint32_t max_inline; /* offset 24, 4 bytes */
    /* Path MTU in bytes: 256, 512, 1024, 2048 or 4096. */
    uint32_t mtu; /* offset 28, 4 bytes */
    /* HCA port number the agent carries MADs for (1-based). */
    uint8_t port; /* offset 32, 1 bytes */
    /* Must be 0. */
    uint8_t reserved0; /* offset 33, 1 bytes */
    /* Must be 0. */
    uint16_t reserved1; /* offset 34, 2 bytes */
    /* Number of addresses, 1..=16. */
    uint32_t address_count; /* offset 36, 4 bytes */
    /* Offset of the addresses: exactly 48. */
    uint32_t address_offset; /* offset 40, 4 bytes */
    /* Must be 0. */
    uint32_t reserved2; /* offset 44, 4 bytes */
} NdcmRegisterAdapterIn;
NDCM_STATIC_ASSERT(sizeof(NdcmRegisterAdapterIn) == 48, NdcmRegisterAdapterIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, header) == 0, NdcmRegisterAdapterIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, max_inbound_read_limit) == 8, NdcmRegisterAdapterIn_max_inbound_read_limit_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, max_outbound_read_limit) == 12, NdcmRegisterAdapterIn_max_outbound_read_limit_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, max_qp_depth) == 16, NdcmRegisterAdapterIn_max_qp_depth_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, max_sge) == 20, NdcmRegisterAdapterIn_max_sge_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, max_inline) == 24, NdcmRegisterAdapterIn_max_inline_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, mtu) == 28, NdcmRegisterAdapterIn_mtu_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, port) == 32, NdcmRegisterAdapterIn_port_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, reserved0) == 33, NdcmRegisterAdapterIn_reserved0_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, reserved1) == 34, NdcmRegisterAdapterIn_reserved1_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, address_count) == 36, NdcmRegisterAdapterIn_address_count_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, address_offset) == 40, NdcmRegisterAdapterIn_address_offset_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterIn, reserved2) == 44, NdcmRegisterAdapterIn_reserved2_offset);

/* REGISTER_ADAPTER output. */
typedef struct NdcmRegisterAdapterOut {
    /* The adapter's index on the device (OPEN_ADAPTER's `adapter_index`). */
    uint32_t adapter_index; /* offset 0, 4 bytes */
    /* Zero. */
    uint32_t reserved; /* offset 4, 4 bytes */
} NdcmRegisterAdapterOut;
NDCM_STATIC_ASSERT(sizeof(NdcmRegisterAdapterOut) == 8, NdcmRegisterAdapterOut_size);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterOut, adapter_index) == 0, NdcmRegisterAdapterOut_adapter_index_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmRegisterAdapterOut, reserved) == 4, NdcmRegisterAdapterOut_reserved_offset);

/* WITHDRAW_ADAPTER input (agent only). */
typedef struct NdcmWithdrawAdapterIn {
    /* Version and flags. */
    NdcmHeader header; /* offset 0, 8 bytes */
    /* An adapter this file registered. */
    uint32_t adapter_index; /* offset 8, 4 bytes */
    /* Must be 0. */
    uint32_t reserved; /* offset 12, 4 bytes */
} NdcmWithdrawAdapterIn;
NDCM_STATIC_ASSERT(sizeof(NdcmWithdrawAdapterIn) == 16, NdcmWithdrawAdapterIn_size);
NDCM_STATIC_ASSERT(offsetof(NdcmWithdrawAdapterIn, header) == 0, NdcmWithdrawAdapterIn_header_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmWithdrawAdapterIn, adapter_index) == 8, NdcmWithdrawAdapterIn_adapter_index_offset);
NDCM_STATIC_ASSERT(offsetof(NdcmWithdrawAdapterIn, reserved) == 12, NdcmWithdrawAdapterIn_reserved_offset);

#endif /* NDCM_IOCTL_H */
