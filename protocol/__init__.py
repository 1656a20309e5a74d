"""protocol: the shared language of the market. It imports no other package of ours.

Every role (provider agent, backend, SDK, auditor) speaks through these modules, so no
role has to import another to get a data type:

``canonical``   canonical JSON and the keccak256 content ids that go on chain
``blobstore``   the content-addressed ``BlobStore`` interface and its local-folder store
``report``      benchmark reports, their headline figures and the one conversion of those
                figures to the integers that go on chain
``eip712``      the attestation and batch EIP-712 types: signing and signer recovery
``jobspec``     ``JobSpec`` / ``JobResult``, validated at the boundary
``settings``    one ``Settings`` object for every ``METAINF_*`` variable and its default
``keys``        role keys from the environment or a local key file
"""
