"""The clinic's canonical URLs: profiles, extensions, code systems and identifier systems.

Kept here, not imported from the server, so that ``mappers`` stays a standalone package. They must
match the conformance resources in ``profiles/`` (a test checks every profile URL exists there).
"""

from __future__ import annotations

from typing import Final

CANONICAL: Final = "http://clinic.example.org/fhir"
_SD: Final = f"{CANONICAL}/StructureDefinition"
_CS: Final = f"{CANONICAL}/CodeSystem"
_SID: Final = f"{CANONICAL}/sid"

# --- profiles -------------------------------------------------------------------------------------
PROFILE_PATIENT: Final = f"{_SD}/clinic-patient"
PROFILE_PRACTITIONER: Final = f"{_SD}/clinic-practitioner"
PROFILE_PRACTITIONER_ROLE: Final = f"{_SD}/clinic-practitionerrole"
PROFILE_APPOINTMENT: Final = f"{_SD}/clinic-appointment"
PROFILE_ENCOUNTER: Final = f"{_SD}/clinic-encounter"
PROFILE_CONDITION: Final = f"{_SD}/clinic-condition"
PROFILE_OBSERVATION: Final = f"{_SD}/clinic-observation"
PROFILE_MEDICATION_REQUEST: Final = f"{_SD}/clinic-medicationrequest"
PROFILE_CAREPLAN: Final = f"{_SD}/clinic-careplan"
PROFILE_PROCEDURE: Final = f"{_SD}/clinic-procedure"
PROFILE_EXPENSE: Final = f"{_SD}/clinic-invoice-expense"
PROFILE_INCOME: Final = f"{_SD}/clinic-invoice-income"
PROFILE_DOCUMENT: Final = f"{_SD}/clinic-documentreference"
PROFILE_MEDIA: Final = f"{_SD}/clinic-media"

# --- extensions -----------------------------------------------------------------------------------
EXT_EXPENSE_CATEGORY: Final = f"{_SD}/expense-category"
EXT_EXPENSE_REASON: Final = f"{_SD}/expense-reason"
EXT_INCOME_SOURCE: Final = f"{_SD}/income-source"
EXT_PROCEDURE_APPOINTMENT: Final = f"{_SD}/procedure-appointment"

# --- the clinic's code systems --------------------------------------------------------------------
CS_STAFF_ROLE: Final = f"{_CS}/clinic-staff-role"
CS_SPECIALTY: Final = f"{_CS}/clinic-specialty"
CS_INVOICE_KIND: Final = f"{_CS}/clinic-invoice-kind"
CS_EXPENSE_CATEGORY: Final = f"{_CS}/clinic-expense-category"
CS_EXPENSE_REASON: Final = f"{_CS}/clinic-expense-reason"
CS_INCOME_SOURCE: Final = f"{_CS}/clinic-income-source"
CS_DOCUMENT_CATEGORY: Final = f"{_CS}/clinic-document-category"

# --- official code systems ------------------------------------------------------------------------
CS_CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
CS_CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CS_ALLERGY_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
CS_OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
CS_MEDIA_TYPE: Final = "http://terminology.hl7.org/CodeSystem/media-type"
CS_ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

# --- identifier systems: how each record's own key is kept on its resource -----------------------
SID_MRN: Final = f"{_SID}/mrn"
SID_STAFF: Final = f"{_SID}/staff"
SID_APPOINTMENT: Final = f"{_SID}/appointment"
SID_VISIT: Final = f"{_SID}/visit"
SID_VISIT_DIAGNOSIS: Final = f"{_SID}/visit-diagnosis"
SID_TREATMENT_PLAN: Final = f"{_SID}/treatment-plan"
SID_PROCEDURE: Final = f"{_SID}/procedure"
SID_EXPENSE: Final = f"{_SID}/expense"
SID_INCOME: Final = f"{_SID}/income"
SID_DOCUMENT: Final = f"{_SID}/document"
SID_IMAGE: Final = f"{_SID}/image"
# The parts of a record (a patient's allergies, a visit's findings ...): "<record key>#<position>".
SID_STAFF_ROLE: Final = f"{_SID}/staff-role"
SID_ALLERGY: Final = f"{_SID}/allergy"
SID_PROBLEM: Final = f"{_SID}/problem"
SID_FINDING: Final = f"{_SID}/finding"
SID_PRESCRIPTION: Final = f"{_SID}/prescription"
