"""API result bodies built from the model, in the shapes of the recorded payloads.

Key names and nesting follow the recordings in ../fixtures/recorded (ropensci/qualtRics
fetch_description, fetch_description_legacy, all_surveys, write_qsf); only the values are ours.
"""

from __future__ import annotations

from .generator import Block, Choice, Question, Survey, User, iso

ORG_ID = "sandboxorg"
BRAND_ID = "sandboxorg"


def survey_list_element(s: Survey) -> dict:
    return {"id": s.id, "name": s.name, "ownerId": s.owner_id, "lastModified": iso(s.last_modified),
            "creationDate": iso(s.creation), "isActive": s.is_active}


def _choice_map(items: list[Choice]) -> dict:
    out = {}
    for c in items:
        d: dict = {"Display": c.text.html}
        if c.text_entry:
            d["TextEntry"] = "true"
        if c.exclusive:
            d["ExclusiveAnswer"] = True
        out[c.id] = d
    return out


def question_definition(q: Question, survey: Survey) -> dict:
    """One entry of `Questions` in /survey-definitions (keys as in the recorded fetch_description)."""
    d: dict = {
        "QuestionText": q.text.html, "DataExportTag": q.tag, "QuestionType": q.qtype, "Selector": q.selector,
    }
    if q.sub_selector is not None:
        d["SubSelector"] = q.sub_selector
    d["Configuration"] = {"QuestionDescriptionOption": "UseText", "LabelPosition": "BELOW"}
    d["QuestionDescription"] = q.description
    if q.choices:
        d["Choices"] = _choice_map(q.choices)
        d["ChoiceOrder"] = list(q.choice_order)
    if q.answers:
        d["Answers"] = {a.id: {"Display": a.text.html} for a in q.answers}
        d["AnswerOrder"] = list(q.answer_order)
    recoded = q.answers if q.kind == "matrix" else q.choices
    if any(c.recode is not None for c in recoded):
        d["RecodeValues"] = {c.id: c.export_value for c in recoded}
    if q.shown_if:
        other, cid = q.shown_if
        d["DisplayLogic"] = {
            "0": {"0": {"LogicType": "Question", "QuestionID": other, "QuestionIsInLoop": "no",
                        "ChoiceLocator": f"q://{other}/SelectableChoice/{cid}", "Operator": "Selected",
                        "QuestionIDFromLocator": other, "LeftOperand": f"q://{other}/SelectableChoice/{cid}",
                        "Type": "Expression", "Description": "If selected"},
                  "Type": "If"},
            "Type": "BooleanExpression", "inPage": False}
    d["Validation"] = {"Settings": {"ForceResponse": "ON" if q.force else "OFF", "ForceResponseType": "ON",
                                    "Type": "None"}}
    if q.columns:
        d["AdditionalQuestions"] = {
            col.qid.split("#")[1]: {k: v for k, v in question_definition(col, survey).items() if k != "QuestionID"}
            | {"QuestionID": col.qid}
            for col in q.columns
        }
    d.update({"Language": [], "NextChoiceId": len(q.choices) + 1, "NextAnswerId": len(q.answers) + 1,
              "QuestionID": q.qid, "DataVisibility": {"Private": False, "Hidden": False},
              "QuestionText_Unsafe": q.text.html})
    return d


def _block(b: Block) -> dict:
    d: dict = {"Type": b.type, "Description": b.description, "ID": b.id}
    if b.type != "Trash":
        d["SubType"] = ""
    elements = []
    for k, qid in enumerate(b.qids):
        if k and b.type != "Trash":
            elements.append({"Type": "Page Break"})
        elements.append({"Type": "Question", "QuestionID": qid})
    d["BlockElements"] = elements
    if b.type != "Trash":
        d["Options"] = {"BlockLocking": "false", "RandomizeQuestions": "false", "BlockVisibility": "Expanded",
                        "Looping": "Static" if b.loops else "None"}
        if b.loops:
            d["Options"]["LoopingOptions"] = {"Static": {lid: {"1": f"Item {lid}"} for lid in b.loops}}
    return d


def _flow(s: Survey) -> dict:
    flow: list[dict] = [{"Type": "Group", "FlowID": "FL_2", "Description": "Embedded Data", "Flow": [{
        "Type": "EmbeddedData", "FlowID": "FL_20", "Description": "Embedded Data",
        "EmbeddedData": [{"Description": name, "Type": "Custom", "Field": name, "VariableType": "String",
                          "DataVisibility": [], **({"Value": value} if value is not None else {})}
                         for name, value in s.embedded]}]}]
    for k, b in enumerate(x for x in s.blocks if x.type != "Trash"):
        flow.append({"Type": "Standard", "ID": b.id, "FlowID": f"FL_{k + 3}"})
    return {"Type": "Root", "FlowID": "FL_1", "Flow": flow, "Properties": {"Count": len(flow) + 1, "RemovedFieldsets": []}}


# SurveyOptions defaults, as in the recorded fetch_description (survey-specific keys set below).
_OPTION_DEFAULTS = {
    "BackButton": "false", "SaveAndContinue": "true", "SurveyProtection": "PublicSurvey",
    "BallotBoxStuffingPrevention": "false", "NoIndex": "Yes", "SecureResponseFiles": "true", "SurveyExpiration": None,
    "SurveyTermination": "DefaultMessage", "Header": "", "Footer": "", "ProgressBarDisplay": "None",
    "PartialData": "+1 week", "ValidationMessage": None, "PreviousButton": " ← ", "NextButton": " → ",
    "SkinLibrary": "Qualtrics", "SkinType": "MQ", "Skin": "xmskin", "NewScoring": 1, "libraryId": "",
    "nextButtonMid": "", "previousButtonMid": "", "headerMid": "", "footerMid": "", "QuestionsPerPage": "",
    "PageTransition": "None", "Autofocus": "false", "Autoadvance": "false", "AutoadvancePages": "false",
    "ExternalCSS": None, "CustomStyles": {}, "HighlightQuestions": "off", "EOSMessage": "", "ShowExportTags": "false",
    "CollectGeoLocation": "false", "SurveyTitle": "Qualtrics Survey | Qualtrics Experience Management",
    "SurveyMetaDescription": "", "PasswordProtection": "No", "AnonymizeResponse": "No", "Password": "",
    "RefererCheck": "No", "RefererURL": "http://", "BallotBoxStuffingPreventionBehavior": "DefaultMessage",
    "BallotBoxStuffingPreventionMessage": "", "BallotBoxStuffingPreventionMessageLibrary": "",
    "BallotBoxStuffingPreventionURL": None, "RecaptchaV3": "false", "ConfirmStart": False, "AutoConfirmStart": False,
    "RelevantID": "false", "UseCustomSurveyLinkCompletedMessage": None, "SurveyLinkCompletedMessage": "",
    "SurveyLinkCompletedMessageLibrary": "", "ResponseSummary": "No", "EOSMessageLibrary": "",
    "EOSRedirectURL": "https://", "EmailThankYou": "false", "ThankYouEmailMessageLibrary": None,
    "ThankYouEmailMessage": None, "ValidateMessage": "false", "ValidationMessageLibrary": None,
    "InactiveSurvey": "DefaultMessage", "PartialDataCloseAfter": "LastActivity",
    "InactiveMessageLibrary": "", "InactiveMessage": "", "AvailableLanguages": {"EN": []},
}


def _survey_options(s: Survey) -> dict:
    start, end = s.expiration
    return _OPTION_DEFAULTS | {
        "SurveyExpiration": "on" if end else None, "ActiveResponseSet": "RS_sandboxDefault", "SurveyName": s.name,
        "SurveyLanguage": "EN", "SurveyStartDate": iso(start) if start else None,
        "SurveyExpirationDate": iso(end) if end else None, "SurveyCreationDate": iso(s.creation),
    }


def definition(s: Survey) -> dict:
    """`result` of GET /survey-definitions/{id} (default JSON format)."""
    return {
        "QuestionCount": str(len(s.questions)), "SurveyOptions": _survey_options(s), "SurveyID": s.id,
        "SurveyName": s.name, "SurveyStatus": "Active" if s.is_active else "Inactive",
        "LastModified": iso(s.last_modified), "BrandID": BRAND_ID, "OwnerID": s.owner_id, "LastAccessed": None,
        "CreatorID": s.owner_id, "LastActivated": iso(s.last_activated),
        "Questions": {qid: question_definition(q, s) for qid, q in s.questions.items()},
        "Blocks": {b.id: _block(b) for b in s.blocks}, "ResponseSets": {"RS_sandboxDefault": "Default Response Set"},
        "SurveyFlow": _flow(s),
        "Scoring": {"ScoringCategories": [], "ScoringCategoryGroups": [], "ScoringSummaryCategory": None,
                    "ScoringSummaryAfterQuestions": 0, "ScoringSummaryAfterSurvey": 0, "DefaultScoringCategory": None,
                    "AutoScoringCategory": None},
        "ProjectInfo": {"SurveyID": s.id, "ProjectCategory": "CORE", "ProjectType": "CORE", "CompositionType": None,
                        "ContentBundle": None},
        "BrandBaseURL": f"https://{BRAND_ID}.qualtrics.com",
    }


def metadata(s: Survey) -> dict:
    start, end = s.expiration
    return {"SurveyMetadata": {
        "SurveyID": s.id, "SurveyName": s.name, "SurveyDescription": None, "SurveyOwnerID": s.owner_id,
        "SurveyBrandID": BRAND_ID, "DivisionID": None, "SurveyLanguage": "EN",
        "SurveyActiveResponseSet": "RS_sandboxDefault", "SurveyStatus": "Active" if s.is_active else "Inactive",
        "SurveyStartDate": iso(start) if start else None, "SurveyExpirationDate": iso(end) if end else None,
        "SurveyCreationDate": iso(s.creation), "CreatorID": s.owner_id, "LastModified": iso(s.last_modified),
        "LastAccessed": None, "LastActivated": iso(s.last_activated), "Deleted": None}}


def _mysql(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S") if dt else "0000-00-00 00:00:00"


def qsf(s: Survey) -> dict:
    """`result` of GET /survey-definitions/{id}?format=qsf (SurveyEntry + SurveyElements)."""
    start, end = s.expiration
    entry = {
        "SurveyID": s.id, "SurveyName": s.name, "SurveyDescription": None, "SurveyOwnerID": s.owner_id,
        "SurveyBrandID": BRAND_ID, "DivisionID": None, "SurveyLanguage": "EN",
        "SurveyActiveResponseSet": "RS_sandboxDefault", "SurveyStatus": "Active" if s.is_active else "Inactive",
        "SurveyStartDate": _mysql(start), "SurveyExpirationDate": _mysql(end), "SurveyCreationDate": _mysql(s.creation),
        "CreatorID": s.owner_id, "LastModified": _mysql(s.last_modified), "LastAccessed": _mysql(None),
        "LastActivated": _mysql(s.last_activated), "Deleted": None}

    def element(kind, primary, payload, secondary=None):
        return {"SurveyID": s.id, "Element": kind, "PrimaryAttribute": primary, "SecondaryAttribute": secondary,
                "TertiaryAttribute": None, "Payload": payload}

    elements = [element("BL", "Survey Blocks", {str(k): _block(b) for k, b in enumerate(s.blocks)}),
                element("FL", "Survey Flow", _flow(s)), element("SO", "Survey Options", _survey_options(s))]
    elements += [element("SQ", qid, question_definition(q, s), q.description) for qid, q in s.questions.items()]
    return {"SurveyEntry": entry, "SurveyElements": elements}


def legacy_survey(s: Survey, counts: dict[str, int]) -> dict:
    """`result` of GET /surveys/{id} (the legacy "Get Survey" shape, with responseCounts)."""
    questions = {}
    column_map: dict = {}
    for q in s.flowed_questions:
        entry: dict = {"questionType": {"type": q.qtype, "selector": q.selector, "subSelector": q.sub_selector},
                       "questionText": q.text.html, "questionLabel": None,
                       "validation": {"doesForceResponse": q.force}, "questionName": q.tag}
        options = q.answers if q.kind == "matrix" else q.choices
        if q.kind in ("mc_single", "mc_multi", "nps", "rank", "matrix"):
            entry["choices"] = {c.id: {"recode": c.export_value, "description": c.text.plain, "choiceText": c.text.html,
                                       "imageDescription": None, "variableName": None, "analyze": True}
                                for c in options}
        if q.kind in ("matrix", "slider", "form"):
            entry["subQuestions"] = {c.id: {"recode": c.id, "description": c.text.plain, "choiceText": c.text.html,
                                            "variableName": None, "imageDescription": None} for c in q.choices}
            for c in q.choices:
                column_map[f"{q.tag}_{c.id}"] = {"question": q.qid, "subQuestion": f"{q.qid}.subQuestions.{c.id}"}
        elif q.kind != "none":
            column_map[q.tag] = {"question": q.qid}
        questions[q.qid] = entry
    blocks = {b.id: {"description": b.description,
                     "elements": [{"type": "Question", "questionId": qid} for qid in b.qids]}
              for b in s.blocks if b.type != "Trash"}
    flow = [{"type": "EmbeddedData"}] + [{"id": b.id, "type": "Block"} for b in s.blocks if b.type != "Trash"]
    start, end = s.expiration
    return {
        "id": s.id, "name": s.name, "ownerId": s.owner_id, "organizationId": ORG_ID, "isActive": s.is_active,
        "creationDate": iso(s.creation), "lastModifiedDate": iso(s.last_modified),
        "expiration": {"startDate": iso(start) if start else None, "endDate": iso(end) if end else None},
        "questions": questions, "exportColumnMap": column_map, "blocks": blocks, "flow": flow,
        "embeddedData": [{"name": n, **({"defaultValue": v} if v is not None else {})} for n, v in s.embedded],
        "comments": {}, "loopAndMerge": {}, "responseCounts": counts,
    }


def user_list_element(u: User) -> dict:
    return {"id": u.id, "divisionId": u.division_id, "username": u.username, "firstName": u.first_name,
            "lastName": u.last_name, "userType": u.user_type, "email": u.email, "accountStatus": u.account_status}


def user_detail(u: User) -> dict:
    return user_list_element(u) | {
        "organizationId": ORG_ID, "language": u.language, "unsubscribed": False,
        "accountCreationDate": iso(u.created), "accountExpirationDate": None,
        "passwordLastChangedDate": iso(u.created), "passwordExpirationDate": None, "lastLoginDate": None,
        "timeZone": u.time_zone, "responseCounts": {"auditable": 0, "generated": 0, "deleted": 0},
        "permissions": {"controlPanel": {"accountPermissions": {"accessApi": {"state": "on"}}}},
    }


def whoami(u: User) -> dict:
    return {"userId": u.id, "userName": u.username, "firstName": u.first_name, "lastName": u.last_name,
            "email": u.email, "brandId": BRAND_ID, "language": u.language, "accountType": u.user_type}
