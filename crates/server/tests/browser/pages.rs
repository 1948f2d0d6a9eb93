use fantoccini::Locator;

use crate::harness::{browser, screenshot, sign_up};
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_person_signs_up_sees_their_account_and_signs_out_in_a_real_browser() {
    let Some(driver) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let client = &driver.client;
    sign_up(client, &app, "ada@example.com").await;
    let text = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(text.contains("Signed in as ada@example.com"), "{text}");
    let shot = screenshot(client, "account").await;
    assert!(std::fs::metadata(shot).unwrap().len() > 1000, "a real picture");

    client
        .find(Locator::XPath("//form[@action='/account/signout']//button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let response = app.get("/account").await;
    assert_ne!(response.status(), reqwest::StatusCode::OK, "this client was never signed in");
    client.wait().for_url(&url::Url::parse(&app.url("/signin")).unwrap()).await.unwrap();
    client.goto(&app.url("/account")).await.unwrap();
    let after = client.current_url().await.unwrap();
    assert_eq!(after.path(), "/signin", "signed out, the account asks to sign in again");
    driver.client.clone().close().await.unwrap();
}
